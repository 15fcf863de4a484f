// Giving memory back to the kernel: a daemon lives as long as its pod, and what a burst of
// output or execs made it allocate would otherwise stay counted against it.
import { native } from './native.js';

// node:v8 and node:vm are loaded on first use: not one of their modules is in Node's own
// start-up snapshot, and loading them cost every daemon's start about 2.5 ms.
const setFlagsFromString = (flags: string) => process.getBuiltinModule('node:v8').setFlagsFromString(flags);

/** malloc_trim(0): returns the free memory glibc keeps in its heaps. Whether any went back. */
export function trimMalloc(): boolean {
  return native.trimMalloc();
}

let gc: (() => void) | undefined;

/**
 * A full, synchronous V8 garbage collection, so that the Buffers and strings a burst left
 * behind are freed before malloc is trimmed. Obtained without `--expose-gc` on the command
 * line (which a start-up snapshot would have to be built with): the flag is set at run time
 * and `gc` is read from a fresh context, where V8 installs it; the flag is then cleared so that
 * no later context (hooks, the REPL of a debugger) gets it.
 */
export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
  }
  gc();
}

/**
 * Keeps the bytecode of functions that have not run for a while. V8 drops it after a few major
 * GCs and compiles the function again on its next call; in a daemon that runs an exec every few
 * seconds and collects garbage whenever it goes quiet, that meant compiling the exec path again
 * for nearly every exec (+5 ms an exec, docs/performance.md). The bytecode kept is bounded by
 * the code the daemon runs at all. Set at run time, after the bundle has been compiled, so the
 * compile cache and the start-up snapshot, built with V8's defaults, still match.
 */
export function keepBytecode(): void {
  setFlagsFromString('--no-flush-bytecode');
}
