import { spawn } from 'node:child_process';
import * as os from 'node:os';

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** take stdout at most `bytes` every `everyMs`, leaving the rest in the pipe (a slow consumer) */
  slowReader?: SlowReader;
}

export interface SlowReader {
  bytes: number;
  everyMs: number;
}

export class RunTimeoutError extends Error {
  constructor(
    readonly argv: string[],
    readonly timeoutMs: number,
    readonly partial: { stdout: Buffer; stderr: string },
  ) {
    super(`${argv.join(' ')} did not finish within ${timeoutMs} ms\nstderr so far: ${partial.stderr}`);
  }
}

/**
 * Runs a command to completion and reports its exit code instead of throwing on failure,
 * because tests assert on exit codes. A hang is different: the command is SIGKILLed and a
 * RunTimeoutError is thrown, since no exit code would be meaningful.
 */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let slowTick: NodeJS.Timeout | undefined;
    if (opts.slowReader) {
      // Paused mode: Node stops reading the pipe once its small buffer is full, so the writer
      // blocks just as it would on a slow `| reader`.
      const { bytes, everyMs } = opts.slowReader;
      const stdout = child.stdout!;
      // A listener marks the stream as in use: otherwise Node resumes it at the child's exit
      // and whatever is still buffered flows away unread.
      stdout.on('readable', () => {});
      slowTick = setInterval(() => {
        const n = Math.min(bytes, stdout.readableLength);
        // read(0) at the end of the data lets the stream end.
        const b = stdout.read(n) as Buffer | null;
        if (b) out.push(b);
      }, everyMs);
      stdout.once('end', () => clearInterval(slowTick));
    } else child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    if (opts.input !== undefined) {
      // The command may exit without reading its input; that is its business, not an error here.
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(slowTick);
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) reject(new RunTimeoutError([file, ...args], timeoutMs, { stdout, stderr }));
      else resolve({ code: code ?? 128 + signalNumber(signal), signal, stdout, stderr });
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (os.constants.signals[signal] ?? 0) : 0;
}
