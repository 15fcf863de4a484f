import { copyFile, mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { google } from '../api/gen/proto.js';
import { cgroupOfPid, watchOom, type CgroupLocation, type OomWatch } from '../sys/cgroups/index.js';
import { StatusError, Code } from '../errors/index.js';
import { ProcessIO, type StdioConfig } from '../io/process-io.js';
import { ExitRouter } from './exit-router.js';
import { ProcessRecord, type ExitRecord } from './process.js';
import { checkExecOp, checkInitOp } from './process-state.js';
import type { RuntimeErrorClassifier, TaskRuntime } from './task-runtime.js';
import { cgroupStats } from './stats.js';
import type { TaskEvents } from './task-events.js';

export const INIT_EXIT_FILE = 'init.exit.json';

export interface ContainerDeps {
  namespace: string;
  runtime: TaskRuntime;
  errors: RuntimeErrorClassifier;
  router: ExitRouter;
  events: TaskEvents;
  logger: Logger;
  /** Unmounts <bundle>/rootfs when the container is deleted (only when the shim mounted it). */
  unmountRootfs?: () => void;
  released?: () => Promise<void>;
}

export interface CreateSpec {
  id: string;
  bundle: string;
  stdio: StdioConfig;
  /** false when the OCI spec has no private PID namespace: the init's exit must then kill the rest. */
  privatePidNamespace: boolean;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** Set when the task is restored from a checkpoint image rather than created fresh. */
  checkpoint?: RestoreSpec;
}

export interface RestoreSpec {
  imagePath: string;
  parentPath?: string;
  /** criu_work_path of the runtime options; the driver defaults to <bundle>/work. */
  workPath?: string;
}

/** CheckpointTaskRequest with its containerd.runc.v1.CheckpointOptions. */
export interface CheckpointSpec {
  imagePath: string;
  /** Kept for the caller when given; otherwise scratch space removed afterwards. */
  workPath?: string;
  exit: boolean;
  openTcp?: boolean;
  externalUnixSockets?: boolean;
  terminal?: boolean;
  fileLocks?: boolean;
  cgroupsMode?: string;
  emptyNamespaces?: readonly string[];
}

async function readPid(path: string): Promise<number> {
  const text = await readFile(path, 'utf8');
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`invalid pid ${JSON.stringify(text)} in ${path}`);
  return pid;
}

/**
 * One container: its init process and its execs, the runtime that drives them, and the ordering
 * rules of their events (spec §4.3): start before exit, every exec's exit before the init's.
 */
export class Container {
  readonly init: ProcessRecord;
  readonly execs = new Map<string, ProcessRecord>();
  private readonly execSpecs = new Map<string, string>();
  /** Set once the init has exited but its exit is held back until the running execs have exited. */
  private initExitPending: ExitRecord | undefined;
  private cgroup: CgroupLocation | undefined;
  private oom: OomWatch | undefined;

  private constructor(
    readonly id: string,
    readonly bundle: string,
    private readonly spec: CreateSpec,
    private readonly deps: ContainerDeps,
  ) {
    this.init = new ProcessRecord(id, spec.stdio);
  }

  get runtimeName(): string {
    return this.deps.runtime.name;
  }

  static async create(spec: CreateSpec, deps: ContainerDeps): Promise<Container> {
    const c = new Container(spec.id, spec.bundle, spec, deps);
    const io = await ProcessIO.open(spec.stdio, { id: spec.id, namespace: deps.namespace, bundle: spec.bundle, logger: deps.logger });
    c.init.io = io;
    // As in the reference shim, a restore only happens at Start: until then there is no process.
    if (spec.checkpoint) return c;
    const endSpawn = deps.router.beginSpawn();
    try {
      const pidFile = join(spec.bundle, 'init.pid');
      await deps.runtime.create({
        id: spec.id,
        pidFile,
        noPivot: spec.noPivot,
        noNewKeyring: spec.noNewKeyring,
        consoleSocket: io.consoleSocket,
        io: io.runtimeStdio,
      });
      await io.runtimeStarted();
      c.init.pid = await readPid(pidFile);
      deps.router.claim(c.init.pid, (e) => c.onInitReaped({ status: e.status, at: e.exitedAt }));
    } catch (err) {
      io.close();
      await deps.runtime.delete(spec.id, { force: true }).catch(() => undefined);
      throw err;
    } finally {
      endSpawn();
    }
    await c.watchCgroup();
    return c;
  }

  /**
   * Finds the init's cgroup and arms the OOM watch while the process is still held in `create`,
   * so not even an OOM right after start goes unnoticed (spec §7.3). A cgroup we cannot watch
   * costs stats and OOM events, not the container, as in the reference shim.
   */
  private async watchCgroup(): Promise<void> {
    try {
      this.cgroup = await cgroupOfPid(this.init.pid);
      this.oom = await watchOom(this.cgroup, {
        onOom: () => this.deps.events.oom(this.id),
        onError: (err) => this.deps.logger.warn({ err }, 'OOM watch failed'),
      });
    } catch (err) {
      this.deps.logger.warn({ err }, 'cannot watch the container cgroup: no OOM events');
    }
  }

  async stats(): Promise<google.protobuf.IAny> {
    if (!this.cgroup) throw new StatusError(Code.NotFound, 'cgroup does not exist: not found');
    return cgroupStats(this.cgroup);
  }

  process(execId: string): ProcessRecord {
    if (!execId) return this.init;
    const p = this.execs.get(execId);
    if (!p) throw new StatusError(Code.NotFound, `process does not exist ${execId}: not found`);
    return p;
  }

  async start(execId: string): Promise<number> {
    return execId ? this.startExec(this.process(execId)) : this.startInit();
  }

  private async startInit(): Promise<number> {
    const p = this.init;
    checkInitOp(p.status, 'start');
    p.starting = true;
    const restore = this.spec.checkpoint;
    try {
      if (restore) await this.restoreInit(restore);
      else await this.deps.runtime.start(this.id);
    } catch (err) {
      p.starting = false;
      this.flushDeferredExit(p);
      throw wrapRuntime(restore ? 'OCI runtime restore failed' : 'OCI runtime start failed', err);
    }
    if (restore) await this.watchCgroup();
    p.status = 'running';
    this.deps.events.taskStart(this.id, p.pid);
    p.starting = false;
    this.flushDeferredExit(p);
    return p.pid;
  }

  private async startExec(p: ProcessRecord): Promise<number> {
    checkExecOp(p.status, 'start');
    if (this.init.exit || this.initExitPending || this.init.status === 'stopped') {
      throw new StatusError(Code.FailedPrecondition, `container ${this.id} init process is not running: failed precondition`);
    }
    const processJson = this.execSpecs.get(p.id)!;
    const io = await ProcessIO.open(p.stdio, { id: p.id, namespace: this.deps.namespace, bundle: this.bundle, logger: this.deps.logger });
    p.io = io;
    p.starting = true;
    const endSpawn = this.deps.router.beginSpawn();
    try {
      const pidFile = join(this.bundle, `${p.id}.pid`);
      await this.deps.runtime.exec({ id: this.id, processJson, pidFile, consoleSocket: io.consoleSocket, io: io.runtimeStdio });
      await io.runtimeStarted();
      p.pid = await readPid(pidFile);
      this.deps.router.claim(p.pid, (e) => void this.onExecReaped(p, { status: e.status, at: e.exitedAt }));
    } catch (err) {
      p.starting = false;
      io.close();
      throw wrapRuntime('OCI runtime exec failed', err);
    } finally {
      endSpawn();
    }
    p.status = 'running';
    this.deps.events.execStarted(this.id, p.id, p.pid);
    p.starting = false;
    this.flushDeferredExit(p);
    return p.pid;
  }

  /** A failed restore leaves the task created, so Start may try again, as in the reference shim. */
  private async restoreInit(cp: RestoreSpec): Promise<void> {
    const io = this.init.io!;
    const endSpawn = this.deps.router.beginSpawn();
    try {
      const pidFile = join(this.bundle, 'init.pid');
      await this.deps.runtime.restore({
        id: this.id,
        imagePath: cp.imagePath,
        workPath: cp.workPath,
        parentPath: cp.parentPath,
        pidFile,
        consoleSocket: io.consoleSocket,
        noPivot: this.spec.noPivot,
        io: io.runtimeStdio,
      });
      await io.runtimeStarted();
      this.init.pid = await readPid(pidFile);
      this.deps.router.claim(this.init.pid, (e) => this.onInitReaped({ status: e.status, at: e.exitedAt }));
    } finally {
      endSpawn();
    }
  }

  /**
   * `runc checkpoint`; no event, as the v2 reference shim. CRIU's own account of a failure is
   * in dump.log inside the work dir, so it is copied into the bundle and named in the error.
   */
  async checkpoint(o: CheckpointSpec): Promise<void> {
    checkInitOp(this.init.status, 'checkpoint');
    const workPath = o.workPath || join(this.bundle, 'work', 'criu-work');
    try {
      await mkdir(workPath, { recursive: true, mode: 0o700 });
      await this.deps.runtime.checkpoint({
        id: this.id,
        imagePath: o.imagePath,
        workPath,
        leaveRunning: !o.exit,
        tcpEstablished: o.openTcp,
        externalUnixSockets: o.externalUnixSockets,
        shellJob: o.terminal,
        fileLocks: o.fileLocks,
        cgroupsMode: o.cgroupsMode,
        emptyNamespaces: o.emptyNamespaces,
      });
    } catch (err) {
      if (err instanceof StatusError && err.code !== Code.Unknown) throw err;
      const dumpLog = join(this.bundle, 'criu-dump.log');
      await copyFile(join(workPath, 'dump.log'), dumpLog)
        .catch((e) => this.deps.logger.warn({ err: e }, 'no CRIU dump.log to keep'));
      const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      throw new StatusError(Code.Unknown, `${message} path= ${dumpLog}`, { cause: err });
    } finally {
      if (!o.workPath) await rm(workPath, { recursive: true, force: true });
    }
  }

  private flushDeferredExit(p: ProcessRecord): void {
    const exit = p.deferredExit;
    if (!exit) return;
    p.deferredExit = undefined;
    if (p === this.init) this.onInitReaped(exit);
    else void this.onExecReaped(p, exit);
  }

  addExec(execId: string, stdio: StdioConfig, processJson: string): void {
    checkInitOp(this.init.status, 'exec');
    if (execId === this.id || this.execs.has(execId)) {
      throw new StatusError(Code.AlreadyExists, `id ${execId}: already exists`);
    }
    this.execs.set(execId, new ProcessRecord(execId, stdio));
    this.execSpecs.set(execId, processJson);
    this.deps.events.execAdded(this.id, execId);
  }

  async kill(execId: string, signal: number, all: boolean): Promise<void> {
    const p = this.process(execId);
    if (p !== this.init) {
      checkExecOp(p.status, 'kill');
      try {
        process.kill(p.pid, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new StatusError(Code.NotFound, 'process already finished: not found');
        throw StatusError.from(err);
      }
      return;
    }
    checkInitOp(p.status, 'kill');
    try {
      await this.deps.runtime.kill(this.id, signal, all);
    } catch (err) {
      if (this.deps.errors.isProcessAlreadyFinished(err)) throw new StatusError(Code.NotFound, 'process already finished: not found', { cause: err });
      if (this.deps.errors.isNotExist(err)) throw new StatusError(Code.NotFound, 'no such container: not found', { cause: err });
      throw wrapRuntime('unknown error after kill', err);
    }
  }

  async pause(): Promise<void> {
    checkInitOp(this.init.status, 'pause');
    this.init.status = 'pausing';
    try {
      await this.deps.runtime.pause(this.id);
    } catch (err) {
      if (this.init.status === 'pausing') this.init.status = 'running';
      throw wrapRuntime('OCI runtime pause failed', err);
    }
    if (this.init.status === 'pausing') this.init.status = 'paused';
    this.deps.events.paused(this.id);
  }

  async resume(): Promise<void> {
    checkInitOp(this.init.status, 'resume');
    try {
      await this.deps.runtime.resume(this.id);
    } catch (err) {
      throw wrapRuntime('OCI runtime resume failed', err);
    }
    if (this.init.status === 'paused') this.init.status = 'running';
    this.deps.events.resumed(this.id);
  }

  async update(resourcesJson: string): Promise<void> {
    checkInitOp(this.init.status, 'update');
    try {
      await this.deps.runtime.update(this.id, resourcesJson);
    } catch (err) {
      throw wrapRuntime('OCI runtime update failed', err);
    }
  }

  async pids(): Promise<Array<{ pid: number; execId?: string }>> {
    if (this.init.status === 'stopped' || this.init.status === 'deleted') return [];
    let pids: number[];
    try {
      pids = await this.deps.runtime.ps(this.id);
    } catch (err) {
      if (this.deps.errors.isNotExist(err)) return [];
      throw wrapRuntime('failed to list pids', err);
    }
    const execByPid = new Map<number, string>();
    for (const e of this.execs.values()) if (e.pid) execByPid.set(e.pid, e.id);
    return pids.map((pid) => ({ pid, execId: execByPid.get(pid) }));
  }

  closeIO(execId: string): void {
    this.process(execId).io?.closeStdin();
  }

  /** Deletes an exec; returns its record. */
  async deleteExec(execId: string): Promise<ProcessRecord> {
    const p = this.process(execId);
    checkExecOp(p.status, 'delete');
    if (p.io) {
      // The exit waited for delivery already; this only hands on what a background child
      // still writing has added since, under the same no-progress bound.
      await p.io.delivered();
      p.io.close();
    }
    p.status = 'deleted';
    this.execs.delete(execId);
    this.execSpecs.delete(execId);
    this.deps.router.release(p.pid);
    await rm(join(this.bundle, `${execId}.pid`), { force: true });
    return p;
  }

  /** Deletes the container (init Delete); the caller drops it from the service afterwards. */
  async deleteInit(): Promise<ProcessRecord> {
    const p = this.init;
    checkInitOp(p.status, 'delete');
    const neverStarted = p.status === 'created';
    if (p.io && !neverStarted) await p.io.delivered();
    // Deleting a created container kills the runtime's init helper; like the reference shim we
    // owe containerd no exit for it (it would otherwise be published after /tasks/delete).
    if (neverStarted && !p.exit) this.deps.router.release(p.pid);
    try {
      await this.deps.runtime.delete(this.id, { force: neverStarted });
    } catch (err) {
      if (!this.deps.errors.isNotExist(err)) throw wrapRuntime('failed to delete task', err);
    }
    this.oom?.close();
    p.io?.close();
    for (const e of this.execs.values()) e.io?.close();
    this.deps.router.release(p.pid);
    this.deps.unmountRootfs?.();
    await this.deps.released?.().catch((err) => this.deps.logger.warn({ err }, 'could not record the clean delete'));
    p.status = 'deleted';
    this.deps.events.taskDelete(this.id, p.pid, p.exit);
    return p;
  }

  private async onExecReaped(p: ProcessRecord, exit: ExitRecord): Promise<void> {
    p.io?.processExited();
    if (p.starting) {
      p.deferredExit = exit;
      return;
    }
    // Until then the exec counts as running, which also holds the init's exit back (spec §7.1).
    await this.outputDelivered(p);
    p.markExited(exit);
    this.deps.events.taskExit(this.id, p.id, p.pid, exit);
    if (this.initExitPending && !this.hasRunningExecs()) {
      const pending = this.initExitPending;
      this.initExitPending = undefined;
      // The init's exit is recorded only now, after its execs' (spec §7.1).
      this.publishInitExit({ status: pending.status, at: new Date() });
    }
  }

  private onInitReaped(exit: ExitRecord): void {
    const p = this.init;
    p.io?.processExited();
    if (p.starting) {
      p.deferredExit = exit;
      return;
    }
    if (!this.spec.privatePidNamespace) {
      // Without its own PID namespace the container's other processes outlive the init; the
      // reference shim kills them so the task really ends (spec §4.3).
      this.deps.runtime.kill(this.id, 9, true).catch((err) => this.deps.logger.debug({ err }, 'kill --all after init exit'));
    }
    if (this.hasRunningExecs()) {
      this.initExitPending = exit;
      return;
    }
    this.publishInitExit(exit);
  }

  private publishInitExit(exit: ExitRecord): void {
    const p = this.init;
    // Persisted before anyone hears of the exit: a shim that dies right after publishing it
    // still lets `delete` report the real status.
    void this.outputDelivered(p)
      .then(() => persistInitExit(this.bundle, p.pid, exit))
      .catch((err) => this.deps.logger.warn({ err }, 'could not persist the exit status'))
      // An OOM kill is announced before the exit it caused (spec §4.2).
      .then(() => this.oom?.settled())
      .then(() => {
        p.markExited(exit);
        this.deps.events.taskExit(this.id, this.id, p.pid, exit);
      });
  }

  /** A client closes its stdio as soon as it hears of an exit, so the exit waits for the output (bounded). */
  private async outputDelivered(p: ProcessRecord): Promise<void> {
    await p.io?.delivered();
  }

  private hasRunningExecs(): boolean {
    for (const e of this.execs.values()) if (e.isRunningLike || e.starting) return true;
    return false;
  }
}

function wrapRuntime(prefix: string, err: unknown): StatusError {
  if (err instanceof StatusError && err.code !== Code.Unknown) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StatusError(Code.Unknown, `${prefix}: ${message}`, { cause: err });
}

/**
 * The exit status is written to the bundle so that `delete`, run after a shim crash, reports
 * the real status instead of a synthetic 137.
 */
async function persistInitExit(bundle: string, pid: number, exit: ExitRecord): Promise<void> {
  const path = join(bundle, INIT_EXIT_FILE);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify({ pid, status: exit.status, exitedAt: exit.at.toISOString() }));
  await rename(tmp, path);
}
