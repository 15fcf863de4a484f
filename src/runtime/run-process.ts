import { spawnChild, type ChildStdioSet } from '../sys/index.js';

export interface RunOptions {
  readonly cwd?: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * Exactly what the child gets. Only 'pipe' entries are read (stdout, stderr) or written
   * (stdin, with `input`); fds are handed over as they are.
   */
  readonly stdio: ChildStdioSet;
  readonly input?: string;
  /** None: the program runs as long as it takes (`runsc wait` lasts the container's life). */
  readonly timeoutMs?: number;
  /**
   * 'close' (the default) also waits for our pipes to reach end of file, so that output still
   * in them after the exit is read; 'exit' settles when the program exits, for a runtime that
   * hands its stdio on to a process that outlives it (`runsc start` of a pod's container).
   */
  readonly settleOn?: 'close' | 'exit';
}

export type RunResult =
  | { readonly kind: 'exited'; readonly exitCode: number | null; readonly signal: NodeJS.Signals | null; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'timed-out'; readonly pid: number | undefined };

/** Enough for `ps` of a container with ~100k processes; a runaway runtime cannot grow us further. */
const MAX_CAPTURE = 4 << 20;

/**
 * Runs one program to completion or to its deadline. At the deadline it is SIGKILLed and the
 * promise settles at once: a stuck runtime must not hold the request (and the containerd
 * call behind it) forever, even if something it left behind keeps our pipes open. Whatever
 * settles first wins; later events are no-ops on a settled promise.
 *
 * The program is started by the addon's vfork + exec (src/sys/spawn.ts), not child_process: the fork()
 * behind child_process blocked a daemon's event loop for milliseconds on every runtime call.
 */
export function runProcess(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawnChild(file, args, { cwd: opts.cwd, env: opts.env, stdio: opts.stdio });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let captured = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (captured >= MAX_CAPTURE) return;
      captured += chunk.length;
      into.push(chunk);
    };
    child.stdout?.on('data', collect(stdout));
    child.stderr?.on('data', collect(stderr));
    // A read error on our end of a pipe ends that stream; the exit status tells the story.
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});
    if (child.stdin) {
      // EPIPE when the runtime exits without reading: its exit status tells the story.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input ?? '');
    }
    const drop = () => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.stdin?.destroy();
    };

    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      // Once reaped, the pid may already be another process's.
      if (!child.reaped()) process.kill(child.pid, 'SIGKILL');
      drop();
      resolve({ kind: 'timed-out', pid: child.pid });
    }, opts.timeoutMs);

    // 'close' (the default) also waits for our pipes to end: ps output may still be in them
    // when the process exits.
    const ends = [child.stdout, child.stderr].flatMap((s) => (s && opts.settleOn !== 'exit' ? [new Promise((r) => s.once('close', r))] : []));
    void Promise.all([child.exited, ...ends]).then(([exit]) => {
      clearTimeout(timer);
      // Whatever else holds the pipes open is not ours to wait for.
      if (opts.settleOn === 'exit') drop();
      resolve({
        kind: 'exited',
        exitCode: exit.exitCode,
        signal: exit.signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}
