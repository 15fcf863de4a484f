import { StatusError, Code } from '../errors/index.js';
import { containerd } from '../api/gen/proto.js';

/**
 * Process states and the operations each allows, as explicit tables, after the reference shim's
 * one-type-per-state machines (spec §3.4). Every check in the task layer goes through here, so the
 * legal transitions and the exact error texts containerd users see live in one place.
 */
export type ProcessStatus = 'created' | 'running' | 'pausing' | 'paused' | 'stopped' | 'deleted';

export type InitOp = 'start' | 'delete' | 'kill' | 'pause' | 'resume' | 'update' | 'checkpoint' | 'exec' | 'resize';
export type ExecOp = 'start' | 'delete' | 'kill' | 'resize';

type Rule = null | [Code, string];
const ok: Rule = null;
const unknown = (message: string): Rule => [Code.Unknown, message];

const INIT_RULES: Record<ProcessStatus, Record<InitOp, Rule>> = {
  created: {
    start: ok, delete: ok, kill: ok, update: ok, exec: ok, resize: ok,
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
  deleted: {
    start: unknown('cannot start a deleted process'),
    delete: [Code.NotFound, 'container not created: not found'],
    kill: [Code.NotFound, 'cannot kill a deleted process: not found'],
    pause: unknown('cannot pause a deleted process'),
    resume: unknown('cannot resume a deleted process'),
    update: unknown('cannot update a deleted process'),
    checkpoint: unknown('cannot checkpoint a deleted process'),
    exec: unknown('cannot exec in a deleted state'),
    resize: unknown('cannot resize a deleted process'),
  },
};

const EXEC_RULES: Record<ProcessStatus, Record<ExecOp, Rule>> = {
  created: { start: ok, delete: ok, resize: ok, kill: [Code.FailedPrecondition, 'process not created: failed precondition'] },
  running: { kill: ok, resize: ok, start: unknown('cannot start a running process'), delete: unknown('cannot delete a running process') },
  pausing: { kill: ok, resize: ok, start: unknown('cannot start a running process'), delete: unknown('cannot delete a running process') },
  paused: { kill: ok, resize: ok, start: unknown('cannot start a running process'), delete: unknown('cannot delete a running process') },
  stopped: {
    delete: ok,
    start: unknown('cannot start a stopped process'),
    kill: [Code.NotFound, 'process already finished: not found'],
    resize: unknown('cannot resize a stopped container'),
  },
  deleted: {
    start: unknown('cannot start a deleted process'),
    delete: unknown('cannot delete a deleted process'),
    kill: [Code.NotFound, 'process already finished: not found'],
    resize: unknown('cannot resize a deleted process'),
  },
};

function enforce(rule: Rule): void {
  if (rule) throw new StatusError(rule[0], rule[1]);
}

export function checkInitOp(status: ProcessStatus, op: InitOp): void {
  enforce(INIT_RULES[status][op]);
}

export function checkExecOp(status: ProcessStatus, op: ExecOp): void {
  enforce(EXEC_RULES[status][op]);
}

const Status = containerd.v1.types.Status;

export function toApiStatus(status: ProcessStatus): containerd.v1.types.Status {
  switch (status) {
    case 'created': return Status.CREATED;
    case 'running': return Status.RUNNING;
    case 'pausing': return Status.PAUSING;
    case 'paused': return Status.PAUSED;
    case 'stopped': return Status.STOPPED;
    case 'deleted': return Status.UNKNOWN;
  }
}
