import type { Logger } from 'pino';
import { Code, errdefs, wrapUnknown } from '../errors/index.js';
import { ProcessIO, type IOOwner, type StdioConfig } from '../io/process-io.js';
import { initPidPath, readPidFileSync } from './bundle-files.js';
import type { RestoreSpec } from './checkpoint.js';
import type { ExitRouter } from './exit-router.js';
import { INIT_TRANSITIONS } from './process-state.js';
import { ProcessRecord, type ExitRecord } from './process.js';
import { spawnProcess } from './spawn.js';
import type { RuntimeErrorClassifier, TaskRuntime } from './task-runtime.js';

/** What a task whose exit cannot be learned ends with: containerd's code for an unknown exit. */
const WAIT_FAILED_STATUS = 255;

export interface InitContext {
  id: string;
  bundle: string;
  namespace: string;
  runtime: TaskRuntime;
  errors: RuntimeErrorClassifier;
  router: ExitRouter;
  logger: Logger;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  ioOwner?: IOOwner;
}

/**
 * The container's init process: the runtime calls that create, start, signal and delete the
 * container itself. Its state and the order of its events belong to the container.
 */
export class InitProcess extends ProcessRecord {
  constructor(
    stdio: StdioConfig,
    private readonly ctx: InitContext,
  ) {
    super(ctx.id, stdio, INIT_TRANSITIONS);
  }

  async openIO(): Promise<ProcessIO> {
    const { ctx } = this;
    this.io = await ProcessIO.open(this.stdio, { id: ctx.id, namespace: ctx.namespace, bundle: ctx.bundle, logger: ctx.logger, ioOwner: ctx.ioOwner });
    return this.io;
  }

  /** `runc create`. On failure the stdio is closed and whatever the runtime made is removed. */
  async create(onExit: (exit: ExitRecord) => void): Promise<void> {
    const { ctx } = this;
    const io = this.io!;
    const pidFile = initPidPath(ctx.bundle);
    try {
      if (ctx.runtime.waitInitExit) {
        // The pid is the sandbox's, reported as the task's pid as gVisor's shim does, but not
        // claimed: its exit is the pod's, and the sandbox container owns it.
        await ctx.runtime.create({
          id: ctx.id, pidFile, noPivot: ctx.noPivot, noNewKeyring: ctx.noNewKeyring, consoleSocket: io.consoleSocket, io: io.runtimeStdio,
        });
        this.pid = readPidFileSync(pidFile);
        return;
      }
      await spawnProcess({
        router: ctx.router,
        process: this,
        io,
        pidFile,
        run: () => ctx.runtime.create({
          id: ctx.id, pidFile, noPivot: ctx.noPivot, noNewKeyring: ctx.noNewKeyring, consoleSocket: io.consoleSocket, io: io.runtimeStdio,
        }),
        onExit,
      });
    } catch (err) {
      io.close();
      await ctx.runtime.delete(ctx.id, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** `runc start`, or for a task created from a checkpoint `runc restore`, which spawns the init. */
  async run(restore: RestoreSpec | undefined, onExit: (exit: ExitRecord) => void): Promise<void> {
    const { ctx } = this;
    try {
      if (!restore) {
        const wait = ctx.runtime.waitInitExit;
        await ctx.runtime.start(ctx.id, this.io?.runtimeStdio);
        if (wait) {
          await this.io?.runtimeStarted();
          this.awaitExit(wait, onExit);
        }
        return;
      }
      const io = this.io!;
      const pidFile = initPidPath(ctx.bundle);
      await spawnProcess({
        router: ctx.router,
        process: this,
        io,
        pidFile,
        run: () => ctx.runtime.restore({
          id: ctx.id,
          imagePath: restore.imagePath,
          workPath: restore.workPath,
          parentPath: restore.parentPath,
          pidFile,
          consoleSocket: io.consoleSocket,
          noPivot: ctx.noPivot,
          io: io.runtimeStdio,
        }),
        onExit,
      });
    } catch (err) {
      throw wrapUnknown(restore ? 'OCI runtime restore failed' : 'OCI runtime start failed', err);
    }
  }

  /** The exit as the runtime reports it; the container holds it while the start is announced. */
  private awaitExit(wait: (id: string) => Promise<number>, onExit: (exit: ExitRecord) => void): void {
    const { ctx } = this;
    wait(ctx.id).then(
      (status) => onExit({ status, at: new Date() }),
      (err: unknown) => {
        // The status is lost; like gVisor's shim, make sure nothing of the container still runs
        // before the task is reported as ended.
        ctx.logger.error({ err }, 'waiting for the container to exit failed');
        ctx.runtime.kill(ctx.id, 9, true)
          .catch((killErr: unknown) => ctx.logger.debug({ err: killErr }, 'kill --all after a failed wait'))
          .finally(() => onExit({ status: WAIT_FAILED_STATUS, at: new Date() }));
      },
    );
  }

  /** Whether the init is a child of the shim whose exit the reaper routes. */
  get childOfShim(): boolean {
    return !this.ctx.runtime.waitInitExit;
  }

  async signal(signal: number, all: boolean): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.runtime.kill(ctx.id, signal, all);
    } catch (err) {
      if (ctx.errors.isProcessAlreadyFinished(err)) throw errdefs(Code.NotFound, 'process already finished', { cause: err });
      if (ctx.errors.isNotExist(err)) throw errdefs(Code.NotFound, 'no such container', { cause: err });
      throw wrapUnknown('unknown error after kill', err);
    }
  }

  /** `runc delete`; a container the runtime no longer knows is already deleted. */
  async deleteContainer(force: boolean): Promise<void> {
    try {
      await this.ctx.runtime.delete(this.ctx.id, { force });
    } catch (err) {
      if (!this.ctx.errors.isNotExist(err)) throw wrapUnknown('failed to delete task', err);
    }
  }
}
