import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/** One line of a trace file. `t` is epoch milliseconds; `kind` says which of the shapes below it is. */
export type TraceRecord =
  | { kind: 'start'; pid: number; namespace: string; id: string; node: string }
  | { kind: 'rpc'; service: string; method: string; id?: string; execId?: string; request: unknown; response?: unknown; code: number; message?: string; ms: number }
  | { kind: 'runtime'; id?: string; command: string; argv: readonly string[]; cwd?: string; env: Record<string, string>; ms: number; exitCode: number | null; signal?: string | null; timedOut?: boolean; stderrTail?: string; injected?: boolean }
  | { kind: 'event'; topic: string; id?: string; event: unknown }
  | { kind: 'fault'; target: string; id?: string; action: string; detail?: string }
  | { kind: 'hook'; hook: string; id?: string; ms: number; error?: string };

/** Lines held in memory at most while the disk is behind; beyond it records are counted, not kept. */
const MAX_BUFFERED_BYTES = 8 << 20;

/**
 * Appends JSON lines to one file through a write stream: the writes run on libuv's threadpool,
 * so tracing never blocks the event loop; a disk that cannot keep up costs records (counted in
 * a `dropped` field of the next record that fits), never latency.
 */
export class TraceWriter {
  readonly #stream: WriteStream;
  #dropped = 0;
  #failed = false;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.#stream.on('error', () => (this.#failed = true));
  }

  write(record: TraceRecord): void {
    if (this.#failed) return;
    if (this.#stream.writableLength > MAX_BUFFERED_BYTES) {
      this.#dropped += 1;
      return;
    }
    const line = this.#dropped > 0 ? { t: Date.now(), ...record, dropped: this.#dropped } : { t: Date.now(), ...record };
    this.#dropped = 0;
    this.#stream.write(`${JSON.stringify(line)}\n`);
  }

  /** Resolves once everything written so far is in the file. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(() => resolve()));
  }
}
