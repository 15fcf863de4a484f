import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { native } from './native.js';
import { createPipe } from './pipes.js';
import { Reaper } from './reaper.js';

/** What one of the child's fds 0-2 is: /dev/null, a pipe to us, or an fd of ours as it is. */
export type ChildStdio = 'ignore' | 'pipe' | number;
/** The child's fds 0, 1 and 2. */
export type ChildStdioSet = readonly [ChildStdio, ChildStdio, ChildStdio];

export interface ChildExit {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnedChild {
  readonly pid: number;
  /** Our ends of the 'pipe' entries. */
  readonly stdin?: Socket;
  readonly stdout?: Socket;
  readonly stderr?: Socket;
  /** Settles when the Reaper has collected the child's exit status. */
  readonly exited: Promise<ChildExit>;
  /** Whether the exit has been collected: a pid is only ours to signal until then. */
  readonly reaped: () => boolean;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/**
 * Starts a program with vfork + exec (the addon) instead of child_process, whose fork()
 * copies this process's page tables: for a daemon of tens of MB that is milliseconds of a
 * blocked event loop on every runtime call. The exit comes through the Reaper, which this
 * installs (making the process a child subreaper) if nothing has yet.
 *
 * `file` is a path: no PATH lookup is made (callers resolve runtimes once, with lookPath).
 * Throws as child_process reports a failed spawn: `spawn <file> ENOENT`, with `code`.
 */
export function spawnChild(
  file: string,
  args: readonly string[],
  opts: { readonly cwd?: string; readonly env: NodeJS.ProcessEnv; readonly stdio: ChildStdioSet },
): SpawnedChild {
  if (!file.includes('/')) throw new TypeError(`spawnChild needs a path, not a name to look up: ${file}`);
  const reaper = Reaper.get();
  const childFds: number[] = [];
  const ours: (number | undefined)[] = [];
  const toClose: number[] = [];
  try {
    opts.stdio.forEach((s, fd) => {
      if (s === 'ignore') childFds.push(-1);
      else if (typeof s === 'number') childFds.push(s);
      else {
        const { readFd, writeFd } = createPipe();
        const [theirs, mine] = fd === 0 ? [readFd, writeFd] : [writeFd, readFd];
        childFds.push(theirs);
        toClose.push(theirs);
        ours[fd] = mine;
      }
    });
    const env = Object.entries(opts.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    const pid = native.spawn(file, [file, ...args], env, opts.cwd ?? null, childFds);
    let reaped = false;
    const exited = new Promise<ChildExit>((resolve) =>
      reaper.own(pid, (raw) => {
        reaped = true;
        resolve({ exitCode: raw.code, signal: raw.signal === null ? null : (SIGNAL_NAMES.get(raw.signal) ?? null) });
      }),
    );
    // Each of our pipe ends passes to its socket, which closes it from then on.
    const socket = (n: 0 | 1 | 2) => {
      const fd = ours[n];
      if (fd === undefined) return undefined;
      ours[n] = undefined;
      return new Socket({ fd, readable: n !== 0, writable: n === 0 });
    };
    return { pid, stdin: socket(0), stdout: socket(1), stderr: socket(2), exited, reaped: () => reaped };
  } catch (err) {
    for (const fd of ours) if (fd !== undefined) closeSync(fd);
    throw err;
  } finally {
    // The child has its copies (or never started): ours would hold the pipes open forever.
    for (const fd of toClose) closeSync(fd);
  }
}
