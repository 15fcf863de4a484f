// Giving memory back to the kernel: a daemon lives as long as its pod, and what a burst of
// output or execs made it allocate would otherwise stay counted against it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native } from './native.js';

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
    gc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
  }
  gc();
}
