import { execFileSync } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import { closeFd, openFifoReader, openFifoWriter } from '../io/fifo.js';

/**
 * The task's stdio as containerd's cio makes it: FIFOs in a private directory, our stdin copied
 * into one and the shim's output copied out of the others.
 */
export class StdioFifos {
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  #keepers: number[] = [];
  #readers: net.Socket[] = [];
  #writer: net.Socket | undefined;
  readonly #drained: Promise<void>[] = [];

  constructor(dir: string, id: string, readonly terminal: boolean) {
    this.stdin = join(dir, `${id}-stdin`);
    this.stdout = join(dir, `${id}-stdout`);
    this.stderr = terminal ? '' : join(dir, `${id}-stderr`);
    execFileSync('mkfifo', ['-m', '0600', ...[this.stdin, this.stdout, this.stderr].filter(Boolean)]);
  }

  /** Starts copying the output. Readers see EOF only once the shim has closed its ends. */
  attachOutput(): void {
    for (const [path, dest] of [[this.stdout, process.stdout], [this.stderr, process.stderr]] as const) {
      if (!path) continue;
      // A write end of our own until the shim has opened its: a reader with no writer reads EOF.
      this.#keepers.push(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
      const reader = openFifoReader(path);
      this.#readers.push(reader);
      this.#drained.push(new Promise((resolve) => reader.once('close', () => resolve())));
      reader.on('error', () => {});
      reader.pipe(dest, { end: false });
    }
  }

  /**
   * Copies our stdin into the stdin FIFO. Only once the shim has opened its end (after Create):
   * data left in a FIFO that nobody else holds open is lost when we close it.
   */
  attachStdin(onStdinEnd: () => void): void {
    const writer = openFifoWriter(this.stdin);
    this.#writer = writer;
    writer.on('error', () => {});
    process.stdin.on('error', () => {});
    process.stdin.pipe(writer, { end: false });
    process.stdin.once('end', () => {
      writer.end(() => {
        writer.destroy();
        onStdinEnd();
      });
    });
  }

  /** Called once the shim holds its ends of the FIFOs (after Create). */
  releaseKeepers(): void {
    for (const fd of this.#keepers.splice(0)) closeFd(fd);
  }

  /** Resolves when every output FIFO reached EOF, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.releaseKeepers();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const done = await Promise.race([Promise.all(this.#drained).then(() => true), timedOut]);
    clearTimeout(timer);
    return done;
  }

  close(): void {
    this.releaseKeepers();
    process.stdin.unpipe();
    process.stdin.pause();
    this.#writer?.destroy();
    for (const r of this.#readers) r.destroy();
  }
}
