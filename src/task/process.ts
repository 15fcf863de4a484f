import type { ProcessIO, StdioConfig } from '../io/process-io.js';
import type { ProcessStatus, TransitionTable } from './process-state.js';

export interface ExitRecord {
  status: number;
  at: Date;
}

/**
 * What the shim knows about one process (the init or an exec): its state, pid, stdio, and exit.
 * State and Wait answer from here, never by asking the runtime. The status changes only through
 * transition(), which refuses a move its table does not list.
 */
export class ProcessRecord {
  #status: ProcessStatus = 'created';
  pid = 0;
  /** The exit as reported (Wait, State, /tasks/exit); set when the process becomes stopped. */
  exit: ExitRecord | undefined;
  /**
   * The exit as reaped, from the moment the kernel reports it until it is handed on to be
   * reported: while the process is `starting`, or while an init waits for its execs.
   */
  reaped: ExitRecord | undefined;
  io: ProcessIO | undefined;
  private readonly exited: Promise<ExitRecord>;
  private resolveExited!: (e: ExitRecord) => void;

  constructor(
    /** The container id for the init process, the exec id for an exec. */
    readonly id: string,
    readonly stdio: StdioConfig,
    private readonly transitions: TransitionTable,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
  }

  get status(): ProcessStatus {
    return this.#status;
  }

  canMoveTo(to: ProcessStatus): boolean {
    return this.transitions[this.#status].includes(to);
  }

  transition(to: ProcessStatus): void {
    if (!this.canMoveTo(to)) {
      throw new Error(`illegal transition of process ${this.id} from ${this.#status} to ${to}`);
    }
    this.#status = to;
  }

  /** The exit is reported: `exiting` → `stopped`, and Wait returns. */
  markExited(exit: ExitRecord): void {
    this.transition('stopped');
    this.exit = exit;
    this.resolveExited(exit);
  }

  wait(): Promise<ExitRecord> {
    return this.exited;
  }
}
