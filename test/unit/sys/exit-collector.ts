// The exits the Reaper publishes from now on, for tests that wait for one pid's exit (the shim
// itself routes them through the task layer's ExitRouter).
import { Reaper, type ExitInfo } from '../../../src/sys/index.js';

export interface ExitCollector {
  /** Resolves with the exit of `pid`, also when it was reaped before this call (after collectExits()). */
  waitFor(pid: number): Promise<ExitInfo>;
  close(): void;
}

export function collectExits(): ExitCollector {
  const reaper = Reaper.get();
  const exits = new Map<number, ExitInfo>();
  const waiters = new Map<number, Array<(e: ExitInfo) => void>>();
  const onExit = (e: ExitInfo) => {
    exits.set(e.pid, e);
    for (const resolve of waiters.get(e.pid) ?? []) resolve(e);
    waiters.delete(e.pid);
  };
  reaper.on('exit', onExit);
  return {
    waitFor(pid) {
      const exit = exits.get(pid);
      if (exit) return Promise.resolve(exit);
      return new Promise((resolve) => waiters.set(pid, [...(waiters.get(pid) ?? []), resolve]));
    },
    close: () => reaper.off('exit', onExit),
  };
}
