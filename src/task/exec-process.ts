import type { Logger } from 'pino';
import { Code, errdefs, StatusError, wrapUnknown } from '../errors/index.js';
import { ProcessIO, type IOOwner, type StdioConfig } from '../io/process-io.js';
import { execPidPath, removeExecPidFileSync } from './bundle-files.js';
import type { ExitRouter } from './exit-router.js';
import { EXEC_TRANSITIONS } from './process-state.js';
import { ProcessRecord, type ExitRecord } from './process.js';
import { spawnProcess } from './spawn.js';
import type { TaskRuntime } from './task-runtime.js';

export interface ExecContext {
  containerId: string;
  bundle: string;
  namespace: string;
  runtime: TaskRuntime;
  router: ExitRouter;
  logger: Logger;
  ioOwner?: IOOwner;
}

/**
 * An exec process: a process spec run in the container by `runc exec`. The runtime calls and the
 * files of one exec; its state and the order of its events belong to the container.
 */
export class ExecProcess extends ProcessRecord {
  constructor(
    id: string,
    stdio: StdioConfig,
    private readonly processJson: string,
    private readonly ctx: ExecContext,
  ) {
    super(id, stdio, EXEC_TRANSITIONS);
  }

  /** Fresh stdio, then `runc exec`. On failure the stdio is closed and no exit is claimed. */
  async spawn(onExit: (exit: ExitRecord) => void): Promise<void> {
    const { ctx } = this;
    const io = await ProcessIO.open(this.stdio, { id: this.id, namespace: ctx.namespace, bundle: ctx.bundle, logger: ctx.logger, ioOwner: ctx.ioOwner });
    this.io = io;
    const pidFile = execPidPath(ctx.bundle, this.id);
    try {
      await spawnProcess({
        router: ctx.router,
        process: this,
        io,
        pidFile,
        run: () => ctx.runtime.exec({ id: ctx.containerId, processJson: this.processJson, pidFile, consoleSocket: io.consoleSocket, io: io.runtimeStdio }),
        onExit,
      });
    } catch (err) {
      io.close();
      throw wrapUnknown('OCI runtime exec failed', err);
    }
  }

  /** An exec is signalled by pid, as the reference shim: the runtime knows only the init. */
  signal(signal: number): void {
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw errdefs(Code.NotFound, 'process already finished');
      throw StatusError.from(err);
    }
  }

  /** Hands on what is left of its output, then lets go of its stdio, pid and pid file. */
  async release(): Promise<void> {
    if (this.io) {
      await this.io.delivered();
      this.io.close();
    }
    this.ctx.router.release(this.pid);
    removeExecPidFileSync(this.ctx.bundle, this.id);
  }
}
