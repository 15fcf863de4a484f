// A daemon that holds no task is garbage unless containerd is about to give it one: `start` is
// followed by Create within moments, and Delete by Shutdown. When that never comes (containerd
// died mid-create or between Delete and Shutdown, or someone ran `start` by hand), nobody else
// will ever stop the daemon, so it stops itself after a bound.

/** Seconds a daemon may hold no task before it exits; for hosts where Create can lag far behind start. */
export const IDLE_EXIT_ENV = 'TSSHIM_IDLE_EXIT_SECONDS';
const DEFAULT_IDLE_EXIT_MS = 60_000;

export function idleExitMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env[IDLE_EXIT_ENV]);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_IDLE_EXIT_MS;
}

/**
 * Calls onIdle once taskCount() has been 0 at every check for boundMs. Checks a few times per
 * bound on an unref'd timer, so it never keeps the process alive by itself. Returns a canceller.
 */
export function watchIdle(opts: { boundMs: number; taskCount: () => number; onIdle: () => void }): () => void {
  let idleSince = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    if (opts.taskCount() > 0) {
      idleSince = now;
      return;
    }
    if (now - idleSince < opts.boundMs) return;
    clearInterval(timer);
    opts.onIdle();
  }, Math.max(50, Math.min(1_000, opts.boundMs / 4)));
  timer.unref();
  return () => clearInterval(timer);
}
