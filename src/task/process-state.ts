import { Code, errdefs } from '../errors/index.js';
import { containerd } from '../api/gen/proto.js';

/**
 * Process states, the moves between them and the operations each allows, as explicit tables,
 * after the reference shim's one-type-per-state machines (spec §3.4). The in-flight phases of an
 * operation that spans a runtime call are states too: a reader of `status` always knows what is
 * under way. Every check in the task layer goes through here, so the legal transitions and the
 * exact error texts containerd users see live in one place.
 *
 * - `starting`: `runc start` / `runc exec` / `runc restore` is in flight; an exit reaped now is
 *   held until the start has been announced (spec §4.3: start before exit).
 * - `pausing`, `resuming`: `runc pause` / `runc resume` is in flight; an exit meanwhile wins, and
 *   the event of the pause or resume is not published after it.
 * - `exiting`: the process has been reaped, its exit is not reported yet (an init waits for its
 *   execs' exits, the persisted status and the OOM watch).
 * - `deleting`: Delete is in flight (output drain, `runc delete`); a second Delete waits for it,
 *   Kill and everything else answer as for a deleted process.
 */
export type ProcessStatus =
  | 'created' | 'starting' | 'running' | 'pausing' | 'paused' | 'resuming' | 'exiting' | 'stopped' | 'deleting' | 'deleted';

export type InitOp = 'start' | 'delete' | 'kill' | 'pause' | 'resume' | 'update' | 'checkpoint' | 'exec' | 'resize';
export type ExecOp = 'start' | 'delete' | 'kill' | 'resize';

export type TransitionTable = Readonly<Record<ProcessStatus, readonly ProcessStatus[]>>;

// A failed in-flight phase returns to the state it left: Start may be tried again (a failed
// restore), a failed Pause leaves the task running, a failed Delete leaves it for another Delete.
export const INIT_TRANSITIONS: TransitionTable = {
  created: ['starting', 'exiting', 'deleting'],
  starting: ['running', 'created'],
  running: ['pausing', 'exiting'],
  pausing: ['paused', 'running', 'exiting'],
  paused: ['resuming', 'exiting'],
  resuming: ['running', 'paused', 'exiting'],
  exiting: ['stopped'],
  stopped: ['deleting'],
  deleting: ['deleted', 'stopped', 'created'],
  deleted: [],
};

export const EXEC_TRANSITIONS: TransitionTable = {
  created: ['starting', 'deleting'],
  starting: ['running', 'created'],
  running: ['exiting'],
  pausing: [],
  paused: [],
  resuming: [],
  exiting: ['stopped'],
  stopped: ['deleting'],
  deleting: ['deleted', 'stopped', 'created'],
  deleted: [],
};

type Rule = null | [Code, string];
const ok: Rule = null;
const unknown = (message: string): Rule => [Code.Unknown, message];

const initDeleted: Record<InitOp, Rule> = {
  start: unknown('cannot start a deleted process'),
  delete: [Code.NotFound, 'container not created'],
  kill: [Code.NotFound, 'cannot kill a deleted process'],
  pause: unknown('cannot pause a deleted process'),
  resume: unknown('cannot resume a deleted process'),
  update: unknown('cannot update a deleted process'),
  checkpoint: unknown('cannot checkpoint a deleted process'),
  exec: unknown('cannot exec in a deleted state'),
  resize: unknown('cannot resize a deleted process'),
};

const INIT_RULES: Record<ProcessStatus, Record<InitOp, Rule>> = {
  created: {
    start: ok, delete: ok, kill: ok, update: ok, exec: ok, resize: ok,
    pause: unknown('cannot pause task in created state'),
    resume: unknown('cannot resume task in created state'),
    checkpoint: unknown('cannot checkpoint a task in created state'),
  },
  starting: {
    kill: ok, update: ok, exec: ok, resize: ok,
    start: unknown('cannot start a running process'),
    delete: unknown('cannot delete a running process'),
    pause: unknown('cannot pause task in created state'),
    resume: unknown('cannot resume task in created state'),
    checkpoint: unknown('cannot checkpoint a task in created state'),
  },
  running: {
    kill: ok, pause: ok, update: ok, checkpoint: ok, exec: ok, resize: ok,
    start: unknown('cannot start a running process'),
    delete: unknown('cannot delete a running process'),
    resume: unknown('cannot resume a running process'),
  },
  pausing: {
    kill: ok, update: ok, resize: ok,
    start: unknown('cannot start a pausing process'),
    delete: unknown('cannot delete a pausing process'),
    pause: unknown('cannot pause a pausing container'),
    resume: unknown('cannot resume a pausing container'),
    checkpoint: unknown('cannot checkpoint a pausing container'),
    exec: unknown('cannot exec in a pausing state'),
  },
  paused: {
    kill: ok, resume: ok, update: ok, checkpoint: ok, resize: ok,
    start: unknown('cannot start a paused process'),
    delete: unknown('cannot delete a paused process'),
    pause: unknown('cannot pause a paused container'),
    exec: unknown('cannot exec in a paused state'),
  },
  resuming: {
    kill: ok, update: ok, resize: ok,
    start: unknown('cannot start a paused process'),
    delete: unknown('cannot delete a paused process'),
    pause: unknown('cannot pause a resuming container'),
    resume: unknown('cannot resume a resuming container'),
    checkpoint: unknown('cannot checkpoint a resuming container'),
    exec: unknown('cannot exec in a resuming state'),
  },
  // Until its exit is reported the init is listed as running, as in the reference shim; what
  // needs a live process is refused.
  exiting: {
    kill: ok, update: ok, exec: ok, resize: ok,
    start: unknown('cannot start a running process'),
    delete: unknown('cannot delete a running process'),
    resume: unknown('cannot resume a running process'),
    pause: unknown('cannot pause a stopped container'),
    checkpoint: unknown('cannot checkpoint a stopped container'),
  },
  stopped: {
    delete: ok, kill: ok,
    start: unknown('cannot start a stopped process'),
    pause: unknown('cannot pause a stopped container'),
    resume: unknown('cannot resume a stopped container'),
    update: unknown('cannot update a stopped container'),
    checkpoint: unknown('cannot checkpoint a stopped container'),
    exec: unknown('cannot exec in a stopped state'),
    resize: unknown('cannot resize a stopped container'),
  },
  deleting: initDeleted,
  deleted: initDeleted,
};

const notStarted: Record<ExecOp, Rule> = {
  start: ok, delete: ok, resize: ok, kill: [Code.FailedPrecondition, 'process not created'],
};
const live: Record<ExecOp, Rule> = {
  kill: ok, resize: ok, start: unknown('cannot start a running process'), delete: unknown('cannot delete a running process'),
};

const execDeleted: Record<ExecOp, Rule> = {
  start: unknown('cannot start a deleted process'),
  delete: unknown('cannot delete a deleted process'),
  kill: [Code.NotFound, 'process already finished'],
  resize: unknown('cannot resize a deleted process'),
};

const EXEC_RULES: Record<ProcessStatus, Record<ExecOp, Rule>> = {
  created: notStarted,
  starting: { ...notStarted, start: unknown('cannot start a running process'), delete: unknown('cannot delete a running process') },
  running: live,
  pausing: live,
  paused: live,
  resuming: live,
  // Reaped already, its output still being delivered: its pid may belong to someone else now.
  exiting: { ...live, kill: [Code.NotFound, 'process already finished'] },
  stopped: {
    delete: ok,
    start: unknown('cannot start a stopped process'),
    kill: [Code.NotFound, 'process already finished'],
    resize: unknown('cannot resize a stopped container'),
  },
  deleting: execDeleted,
  deleted: execDeleted,
};

function enforce(rule: Rule): void {
  if (rule) throw errdefs(rule[0], rule[1]);
}

export function checkInitOp(status: ProcessStatus, op: InitOp): void {
  enforce(INIT_RULES[status][op]);
}

export function checkExecOp(status: ProcessStatus, op: ExecOp): void {
  enforce(EXEC_RULES[status][op]);
}

const Status = containerd.v1.types.Status;

/** The API has no in-flight statuses: each in-flight phase reports the status it leaves. */
export function toApiStatus(status: ProcessStatus): containerd.v1.types.Status {
  switch (status) {
    case 'created':
    case 'starting':
      return Status.CREATED;
    case 'running':
    case 'exiting':
      return Status.RUNNING;
    case 'pausing': return Status.PAUSING;
    case 'paused':
    case 'resuming':
      return Status.PAUSED;
    case 'stopped':
    case 'deleting':
      return Status.STOPPED;
    case 'deleted': return Status.UNKNOWN;
  }
}
