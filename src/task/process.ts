import type { ProcessIO, StdioConfig } from '../io/process-io.js';
import type { ProcessStatus } from './process-state.js';

export interface ExitRecord {
  status: number;
  at: Date;
}

/**
 * What the shim knows about one process (the init or an exec): its state, pid, stdio, and exit.
 * State and Wait answer from here, never by asking the runtime.
 */
export class ProcessRecord {
  status: ProcessStatus = 'created';
  pid = 0;
  exit: ExitRecord | undefined;
  io: ProcessIO | undefined;
  /** Set while Start is in flight: an exit reaped then waits until the start event is queued. */
  starting = false;
  deferredExit: ExitRecord | undefined;
  private readonly exited: Promise<ExitRecord>;
  private resolveExited!: (e: ExitRecord) => void;

  constructor(
    /** The container id for the init process, the exec id for an exec. */
    readonly id: string,
    readonly stdio: StdioConfig,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
  }

  get isRunningLike(): boolean {
    return this.status === 'running' || this.status === 'paused' || this.status === 'pausing';
  }

  markExited(exit: ExitRecord): void {
    if (this.exit) return;
    this.exit = exit;
    if (this.status !== 'deleted') this.status = 'stopped';
    this.resolveExited(exit);
  }

  wait(): Promise<ExitRecord> {
    return this.exited;
  }
}
