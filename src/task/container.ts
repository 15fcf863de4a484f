import type { Logger } from 'pino';
import type { google } from '../api/gen/proto.js';
import { Code, errdefs, wrapUnknown } from '../errors/index.js';
import type { IOOwner, StdioConfig } from '../io/process-io.js';
import { writeInitExitSync } from './bundle-files.js';
import { watchContainerCgroup, type CgroupWatch } from './cgroup-watch.js';
import { checkpointContainer, type CheckpointSpec, type RestoreSpec } from './checkpoint.js';
import { ExecProcess } from './exec-process.js';
import type { ExitRouter } from './exit-router.js';
import { InitProcess } from './init-process.js';
import type { ExitRecord, ProcessRecord } from './process.js';
import { checkExecOp, checkInitOp } from './process-state.js';
import { cgroupStats } from './stats.js';
import type { TaskEvents } from './task-events.js';
import type { RuntimeErrorClassifier, TaskRuntime } from './task-runtime.js';

export interface ContainerDeps {
  namespace: string;
  runtime: TaskRuntime;
  errors: RuntimeErrorClassifier;
  router: ExitRouter;
  events: TaskEvents;
  logger: Logger;
  /** Unmounts <bundle>/rootfs when the container is deleted (only when the shim mounted it). */
  unmountRootfs?: () => void;
  released?: () => void;
}

export interface CreateSpec {
  id: string;
  bundle: string;
  stdio: StdioConfig;
  /** false when the OCI spec has no private PID namespace: the init's exit must then kill the rest. */
  privatePidNamespace: boolean;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** io_uid/io_gid of the task options: who owns the stdio pipes of the init and the execs. */
  ioOwner?: IOOwner;
  /** Set when the task is restored from a checkpoint image rather than created fresh. */
  checkpoint?: RestoreSpec;
}

/**
 * One container: its init process and its execs, and the ordering rules of their events
 * (spec §4.3): start before exit, every exec's exit before the init's. The processes' modules
 * make the runtime calls; every state change and every event is decided here.
 *
 * There are no locks: everything runs on the event loop, and what spans an await (a runtime call,
 * an output drain) is guarded by the in-flight state it entered first, which every other operation
 * checks. An exit that arrives meanwhile is recorded and handled when that state is left.
 */
export class Container {
  readonly init: InitProcess;
  readonly execs = new Map<string, ExecProcess>();
  private cgroup: CgroupWatch = { cgroup: undefined, oom: undefined };
  /** The outcome of the init Delete while it is `deleting`: a concurrent Delete waits for it. */
  private deletion: Promise<ProcessRecord> | undefined;

  private constructor(
    readonly id: string,
    readonly bundle: string,
    private readonly spec: CreateSpec,
    private readonly deps: ContainerDeps,
  ) {
    this.init = new InitProcess(spec.stdio, {
      id, bundle, namespace: deps.namespace, runtime: deps.runtime, errors: deps.errors, router: deps.router,
      logger: deps.logger, noPivot: spec.noPivot, noNewKeyring: spec.noNewKeyring, ioOwner: spec.ioOwner,
    });
  }

  get runtimeName(): string {
    return this.deps.runtime.name;
  }

  static async create(spec: CreateSpec, deps: ContainerDeps): Promise<Container> {
    const c = new Container(spec.id, spec.bundle, spec, deps);
    await c.init.openIO();
    // As in the reference shim, a restore only happens at Start: until then there is no process.
    if (spec.checkpoint) return c;
    await c.init.create((exit) => c.onReaped(c.init, exit));
    // An init the shim does not reap has the sandbox's pid: its cgroup and OOMs are the pod's.
    if (c.init.childOfShim) c.watchCgroup();
    return c;
  }

  private watchCgroup(): void {
    this.cgroup = watchContainerCgroup(this.init.pid, () => this.deps.events.oom(this.id), this.deps.logger);
  }

  async stats(): Promise<google.protobuf.IAny> {
    if (!this.cgroup.cgroup) throw errdefs(Code.NotFound, 'cgroup does not exist');
    return cgroupStats(this.cgroup.cgroup);
  }

  process(execId: string): ProcessRecord {
    if (!execId) return this.init;
    return this.exec(execId);
  }

  private exec(execId: string): ExecProcess {
    const p = this.execs.get(execId);
    if (!p) throw errdefs(Code.NotFound, `process does not exist ${execId}`);
    return p;
  }

  async start(execId: string): Promise<number> {
    return execId ? this.startExec(this.exec(execId)) : this.startInit();
  }

  private async startInit(): Promise<number> {
    const p = this.init;
    checkInitOp(p.status, 'start');
    const restore = this.spec.checkpoint;
    p.transition('starting');
    try {
      await p.run(restore, (exit) => this.onReaped(p, exit));
    } catch (err) {
      p.transition('created');
      this.settleStart(p);
      throw err;
    }
    if (restore) await this.watchCgroup();
    p.transition('running');
    this.deps.events.taskStart(this.id, p.pid);
    this.settleStart(p);
    return p.pid;
  }

  private async startExec(p: ExecProcess): Promise<number> {
    checkExecOp(p.status, 'start');
    if (!this.initRunning()) throw errdefs(Code.FailedPrecondition, `container ${this.id} init process is not running`);
    p.transition('starting');
    try {
      await p.spawn((exit) => this.onReaped(p, exit));
    } catch (err) {
      // The exec stays created, as in the reference shim; an init exit it held back is due now.
      p.transition('created');
      this.reportInitExitWhenDue(true);
      throw err;
    }
    p.transition('running');
    this.deps.events.execStarted(this.id, p.id, p.pid);
    this.settleStart(p);
    return p.pid;
  }

  /** Whether an exec may start: the init has not exited, even if its exit is not reported yet. */
  private initRunning(): boolean {
    if (this.init.reaped) return false;
    switch (this.init.status) {
      case 'created': case 'starting': case 'running': case 'pausing': case 'paused': case 'resuming':
        return true;
      default:
        return false;
    }
  }

  /** The start is announced (or failed): an exit reaped meanwhile is handled now. */
  private settleStart(p: ProcessRecord): void {
    if (p.reaped) this.beginExit(p);
  }

  async checkpoint(o: CheckpointSpec): Promise<void> {
    checkInitOp(this.init.status, 'checkpoint');
    await checkpointContainer({ id: this.id, bundle: this.bundle, runtime: this.deps.runtime, logger: this.deps.logger }, o);
  }

  addExec(execId: string, stdio: StdioConfig, processJson: string): void {
    checkInitOp(this.init.status, 'exec');
    if (execId === this.id || this.execs.has(execId)) throw errdefs(Code.AlreadyExists, `id ${execId}`);
    this.execs.set(execId, new ExecProcess(execId, stdio, processJson, {
      containerId: this.id, bundle: this.bundle, namespace: this.deps.namespace,
      runtime: this.deps.runtime, router: this.deps.router, logger: this.deps.logger, ioOwner: this.spec.ioOwner,
    }));
    this.deps.events.execAdded(this.id, execId);
  }

  async kill(execId: string, signal: number, all: boolean): Promise<void> {
    if (execId) {
      const p = this.exec(execId);
      checkExecOp(p.status, 'kill');
      p.signal(signal);
      return;
    }
    checkInitOp(this.init.status, 'kill');
    await this.init.signal(signal, all);
  }

  async pause(): Promise<void> {
    const p = this.init;
    checkInitOp(p.status, 'pause');
    p.transition('pausing');
    try {
      await this.deps.runtime.pause(this.id);
    } catch (err) {
      if (p.status === 'pausing') p.transition('running');
      throw wrapUnknown('OCI runtime pause failed', err);
    }
    // An exit during the call has moved the init on: no /tasks/paused after its exit.
    if (p.status !== 'pausing') return;
    p.transition('paused');
    this.deps.events.paused(this.id);
  }

  async resume(): Promise<void> {
    const p = this.init;
    checkInitOp(p.status, 'resume');
    p.transition('resuming');
    try {
      await this.deps.runtime.resume(this.id);
    } catch (err) {
      if (p.status === 'resuming') p.transition('paused');
      throw wrapUnknown('OCI runtime resume failed', err);
    }
    if (p.status !== 'resuming') return;
    p.transition('running');
    this.deps.events.resumed(this.id);
  }

  async update(resourcesJson: string): Promise<void> {
    checkInitOp(this.init.status, 'update');
    try {
      await this.deps.runtime.update(this.id, resourcesJson);
    } catch (err) {
      throw wrapUnknown('OCI runtime update failed', err);
    }
  }

  async pids(): Promise<Array<{ pid: number; execId?: string }>> {
    if (this.init.status === 'stopped' || this.init.status === 'deleting' || this.init.status === 'deleted') return [];
    let pids: number[];
    try {
      pids = await this.deps.runtime.ps(this.id);
    } catch (err) {
      if (this.deps.errors.isNotExist(err)) return [];
      throw wrapUnknown('failed to list pids', err);
    }
    const execByPid = new Map<number, string>();
    for (const e of this.execs.values()) if (e.pid) execByPid.set(e.pid, e.id);
    return pids.map((pid) => ({ pid, execId: execByPid.get(pid) }));
  }

  closeIO(execId: string): void {
    this.process(execId).io?.closeStdin();
  }

  /** Deletes an exec; returns its record. A concurrent Delete finds it gone, as once it is. */
  async deleteExec(execId: string): Promise<ProcessRecord> {
    const p = this.exec(execId);
    if (p.status === 'deleting') throw errdefs(Code.NotFound, `process does not exist ${execId}`);
    checkExecOp(p.status, 'delete');
    p.transition('deleting');
    await p.release();
    p.transition('deleted');
    this.execs.delete(execId);
    return p;
  }

  /**
   * Deletes the container (init Delete); the caller drops it from the service afterwards. A
   * Delete while one is in flight waits for it, then answers as for a deleted task (or with the
   * same failure): only one `runc delete` and one /tasks/delete, ever.
   */
  async deleteInit(): Promise<ProcessRecord> {
    if (this.deletion) {
      await this.deletion;
      throw errdefs(Code.NotFound, 'container not created');
    }
    checkInitOp(this.init.status, 'delete');
    this.deletion = this.runDelete().finally(() => {
      this.deletion = undefined;
    });
    return this.deletion;
  }

  private async runDelete(): Promise<ProcessRecord> {
    const p = this.init;
    const from = p.status;
    const neverStarted = from === 'created';
    p.transition('deleting');
    try {
      // The exit waited for delivery already; this hands on only what a background child still
      // writing has added since, under the same no-progress bound.
      if (p.io && !neverStarted) await p.io.delivered();
      // Deleting a created container kills the runtime's init helper; like the reference shim we
      // owe containerd no exit for it (it would otherwise be published after /tasks/delete).
      if (neverStarted && p.childOfShim) this.deps.router.release(p.pid);
      await p.deleteContainer(neverStarted);
    } catch (err) {
      p.transition(from);
      throw err;
    }
    this.cgroup.oom?.close();
    p.io?.close();
    for (const e of this.execs.values()) e.io?.close();
    if (p.childOfShim) this.deps.router.release(p.pid);
    this.deps.unmountRootfs?.();
    try {
      this.deps.released?.();
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not record the clean delete');
    }
    p.transition('deleted');
    this.deps.events.taskDelete(this.id, p.pid, p.exit);
    return p;
  }

  // Exit ordering. A reaped exit is held while its process is starting (start before exit), an
  // init's while any exec may still exit (execs before init); everything else is reported at once,
  // and only publishExit() reports.

  private onReaped(p: ProcessRecord, exit: ExitRecord): void {
    p.io?.processExited();
    if (p.status !== 'starting' && !p.canMoveTo('exiting')) {
      // Runs inside the reaper's dispatch: a refused move must not take the daemon down.
      this.deps.logger.error({ process: p.id, status: p.status, exitStatus: exit.status }, 'exit reaped in a state that cannot exit: dropped');
      return;
    }
    p.reaped = exit;
    if (p.status === 'starting') return;
    this.beginExit(p);
  }

  private beginExit(p: ProcessRecord): void {
    p.transition('exiting');
    if (p !== this.init) {
      const exit = p.reaped!;
      p.reaped = undefined;
      void this.publishExit(p, exit);
      return;
    }
    if (!this.spec.privatePidNamespace) {
      // Without its own PID namespace the container's other processes outlive the init; the
      // reference shim kills them so the task really ends (spec §4.3).
      this.deps.runtime.kill(this.id, 9, true).catch((err) => this.deps.logger.debug({ err }, 'kill --all after init exit'));
    }
    this.reportInitExitWhenDue(false);
  }

  /** Reports the init's held exit once no exec can exit any more. */
  private reportInitExitWhenDue(heldForExecs: boolean): void {
    const p = this.init;
    if (p.status !== 'exiting' || !p.reaped || this.execsHoldInitExit()) return;
    const exit = p.reaped;
    p.reaped = undefined;
    // An exit held back for the execs is recorded as of now, after theirs (spec §7.1).
    void this.publishExit(p, heldForExecs ? { status: exit.status, at: new Date() } : exit);
  }

  private execsHoldInitExit(): boolean {
    for (const e of this.execs.values()) {
      if (e.status === 'starting' || e.status === 'running' || e.status === 'exiting') return true;
    }
    return false;
  }

  /**
   * The one place an exit is reported, for the init and for execs: Wait returns, State says
   * stopped and /tasks/exit is published, all at once and in this order.
   */
  private async publishExit(p: ProcessRecord, exit: ExitRecord): Promise<void> {
    // A client closes its stdio as soon as it hears of an exit, so the exit waits until the
    // output has been delivered (bounded by the reader's progress). Meanwhile the process is
    // `exiting`, which also holds the init's exit behind an exec's (spec §7.1).
    await p.io?.delivered();
    if (p === this.init) {
      // Both before anyone hears of the exit: the status is persisted (a shim that dies right
      // after publishing it still lets `delete` report the real status), and an OOM kill is
      // announced before the exit it caused (spec §4.2).
      try {
        writeInitExitSync(this.bundle, { pid: p.pid, status: exit.status, exitedAt: exit.at.toISOString() });
      } catch (err) {
        this.deps.logger.warn({ err }, 'could not persist the exit status');
      }
      await this.cgroup.oom?.settled();
    }
    p.markExited(exit);
    this.deps.events.taskExit(this.id, p.id, p.pid, exit);
    if (p !== this.init) this.reportInitExitWhenDue(true);
  }
}
