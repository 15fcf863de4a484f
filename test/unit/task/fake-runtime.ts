// A TaskRuntime that runs nothing: each call is recorded, and a test can hold the next call of
// an operation inside the "runtime" until it releases it, to overlap it with an exit or with
// another call. Processes exist only as pids; their exits are dispatched by the test.
import { writeFile } from 'node:fs/promises';
import type { RuntimeCheckpoint, RuntimeRestore, TaskRuntime } from '../../../src/task/task-runtime.js';

export type RuntimeOp = 'create' | 'start' | 'exec' | 'kill' | 'delete' | 'pause' | 'resume' | 'ps' | 'update' | 'checkpoint' | 'restore';

/** One held runtime call. */
export class Gate {
  readonly entered: Promise<void>;
  private enter!: () => void;
  private settle!: (err?: Error) => void;
  readonly released: Promise<Error | undefined>;

  constructor() {
    this.entered = new Promise((resolve) => (this.enter = resolve));
    this.released = new Promise((resolve) => (this.settle = resolve));
  }

  arrive(): void {
    this.enter();
  }

  /** Lets the call return; with an error, the call fails with it. */
  release(err?: Error): void {
    this.settle(err);
  }
}

export class FakeRuntime implements TaskRuntime {
  readonly name = 'fake';
  readonly calls: RuntimeOp[] = [];
  /** The pid the runtime wrote into each pid file, by the id it was given (container or exec). */
  readonly pids = new Map<string, number>();
  /** Set by a test to play a runtime that reports the init's exit itself (a gVisor pod container). */
  waitInitExit?: (id: string) => Promise<number>;
  private readonly gates = new Map<RuntimeOp, Gate[]>();
  private readonly failures = new Map<RuntimeOp, Error>();
  // Above the largest pid_max (2^22): no real process can have these pids.
  private nextPid = 4_200_001;

  /** Holds the next call of `op` until the gate is released. */
  hold(op: RuntimeOp): Gate {
    const gate = new Gate();
    const list = this.gates.get(op) ?? [];
    list.push(gate);
    this.gates.set(op, list);
    return gate;
  }

  /** The next call of `op` fails with `err`. */
  fail(op: RuntimeOp, err: Error): void {
    this.failures.set(op, err);
  }

  count(op: RuntimeOp): number {
    return this.calls.filter((c) => c === op).length;
  }

  private async enter(op: RuntimeOp, before?: () => Promise<void>): Promise<void> {
    this.calls.push(op);
    await before?.();
    const gate = this.gates.get(op)?.shift();
    if (gate) {
      gate.arrive();
      const err = await gate.released;
      if (err) throw err;
    }
    const failure = this.failures.get(op);
    if (failure) {
      this.failures.delete(op);
      throw failure;
    }
  }

  private writePid(key: string, pidFile: string): () => Promise<void> {
    return async () => {
      const pid = this.nextPid++;
      this.pids.set(key, pid);
      await writeFile(pidFile, String(pid));
    };
  }

  create(o: { id: string; pidFile: string }): Promise<void> {
    return this.enter('create', this.writePid(o.id, o.pidFile));
  }

  start(): Promise<void> {
    return this.enter('start');
  }

  /** The pid file is written when the call is entered: an exec's process exists before runc returns. */
  exec(o: { processJson: string; pidFile: string }): Promise<void> {
    const { id } = JSON.parse(o.processJson) as { id: string };
    return this.enter('exec', this.writePid(id, o.pidFile));
  }

  kill(): Promise<void> {
    return this.enter('kill');
  }

  delete(): Promise<void> {
    return this.enter('delete');
  }

  pause(): Promise<void> {
    return this.enter('pause');
  }

  resume(): Promise<void> {
    return this.enter('resume');
  }

  async ps(): Promise<number[]> {
    await this.enter('ps');
    return [...this.pids.values()];
  }

  update(): Promise<void> {
    return this.enter('update');
  }

  checkpoint(_o: RuntimeCheckpoint): Promise<void> {
    return this.enter('checkpoint');
  }

  restore(o: RuntimeRestore): Promise<void> {
    return this.enter('restore', this.writePid(o.id, o.pidFile));
  }
}
