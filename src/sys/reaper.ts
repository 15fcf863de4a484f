import { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { native, type NativeExit } from './native.js';

export interface ExitInfo {
  pid: number;
  /** The exit code, or 128 + the signal number for a process killed by a signal. */
  status: number;
  exitedAt: Date;
}

/**
 * Makes this process the reaper of its orphaned descendants, so that container processes,
 * re-parented to us when `runc create` / `runc exec` exit, report their exit status here.
 */
export function setChildSubreaper(): void {
  native.setChildSubreaper();
}

// One per process even if this module is loaded twice (a bundle plus a test runner, or
// re-evaluated modules): the state it guards (the subreaper bit, the SIGCHLD listener and the
// ChildProcess.prototype.spawn wrapper) is process-wide.
const INSTANCE = Symbol.for('tsshim.sys.Reaper');

/**
 * Reaps the processes this shim did not spawn itself: container inits and exec processes
 * (re-parented to us as subreaper) and any other orphan. It never calls waitpid(-1): that
 * would steal the exit status of children libuv is waiting for, and child_process callers
 * (every runc invocation) would hang. Instead each SIGCHLD triggers a scan of our children
 * list in procfs, and only pids that Node did not spawn are waited for, one by one.
 */
export class Reaper extends EventEmitter<{ exit: [ExitInfo] }> {
  static get(): Reaper {
    const holder = globalThis as { [INSTANCE]?: Reaper };
    return (holder[INSTANCE] ??= new Reaper());
  }

  readonly #nodeChildren = new Set<number>();
  /** Children spawned through the addon (spawn.ts): their exits go to their spawner, not to 'exit'. */
  readonly #owned = new Map<number, (exit: NativeExit) => void>();
  // Orphans are re-parented to the thread-group leader, and Node spawns from the main thread,
  // so the main thread's list holds every child we may reap (worker-thread spawns are
  // children of their own thread and are deliberately out of sight).
  readonly #childrenFile = `/proc/self/task/${process.pid}/children`;
  #scanQueued = false;

  // Children alive before the reaper was installed, if we were not a subreaper yet, were
  // spawned by this process (nothing is re-parented to a non-subreaper): most likely by
  // child_process before the spawn tracking began. Left to their spawner; forgotten once gone.
  #preexisting: Set<number>;

  private constructor() {
    super();
    // Read now, also so that a kernel without the procfs children list fails loudly at start-up.
    const children = this.#children();
    this.#preexisting = native.isChildSubreaper() ? new Set() : new Set(children);
    setChildSubreaper();
    this.#trackNodeChildren();
    process.on('SIGCHLD', () => this.#scanSoon());
    this.#scan();
  }

  // libuv waits for the children it spawned by pid; they must never be reaped here.
  // Wrapping the prototype covers child_process.spawn/exec/execFile/fork and libraries
  // built on them. The pid is dropped on 'exit', which Node emits in the same callback in
  // which libuv reaped it, so the pid cannot be reused by another process in between.
  #trackNodeChildren(): void {
    const nodeChildren = this.#nodeChildren;
    // Public in JavaScript, absent from the type definitions.
    const proto = ChildProcess.prototype as unknown as { spawn(this: ChildProcess, ...args: unknown[]): unknown };
    const spawn = proto.spawn;
    proto.spawn = function (this: ChildProcess, ...args: unknown[]) {
      const result = spawn.apply(this, args);
      const pid = this.pid;
      if (pid !== undefined) {
        nodeChildren.add(pid);
        this.once('exit', () => nodeChildren.delete(pid));
      }
      return result;
    };
  }

  /**
   * Hands the exit of `pid`, a child this process just spawned without libuv, to `onExit`
   * instead of the 'exit' listeners. Called synchronously after the spawn, before any SIGCHLD
   * scan can run, so the exit cannot be taken for an orphan's.
   */
  own(pid: number, onExit: (exit: NativeExit) => void): void {
    this.#owned.set(pid, onExit);
  }

  #children(): number[] {
    const pids: number[] = [];
    for (const word of readFileSync(this.#childrenFile, 'latin1').split(' ')) {
      if (word) pids.push(Number(word));
    }
    return pids;
  }

  // A burst of SIGCHLDs (many exits at once) becomes one scan.
  #scanSoon(): void {
    if (this.#scanQueued) return;
    this.#scanQueued = true;
    setImmediate(() => {
      this.#scanQueued = false;
      this.#scan();
    });
  }

  #scan(): void {
    let reaped: boolean;
    do {
      reaped = false;
      const children = this.#children();
      if (this.#preexisting.size) this.#preexisting = new Set(children.filter((pid) => this.#preexisting.has(pid)));
      for (const pid of children) {
        if (this.#nodeChildren.has(pid) || this.#preexisting.has(pid)) continue;
        const owner = this.#owned.get(pid);
        if (owner) {
          const raw = this.#waitNoHang(pid);
          if (!raw) continue;
          this.#owned.delete(pid);
          reaped = true;
          owner(raw);
          continue;
        }
        const exit = this.#tryReap(pid);
        if (!exit) continue;
        reaped = true;
        this.emit('exit', exit);
      }
    } while (reaped);
  }

  #waitNoHang(pid: number): NativeExit | null {
    try {
      return native.waitpidNoHang(pid);
    } catch (err) {
      // Listed but no longer ours to wait for (reaped between the read and the wait).
      if ((err as NodeJS.ErrnoException).code === 'ECHILD') return null;
      throw err;
    }
  }

  #tryReap(pid: number): ExitInfo | undefined {
    const result = this.#waitNoHang(pid);
    if (!result) return undefined;
    const status = result.signal !== null ? 128 + result.signal : (result.code ?? 0);
    return { pid, status, exitedAt: new Date() };
  }
}
