// A daemon lives as long as its pod. A burst (200 MB of output, a run of execs) leaves it with
// freed Buffers that V8 has not collected yet and with malloc heaps that glibc keeps for reuse:
// 40-70 MiB of anonymous memory after a 200 MB exec, against 16 MiB before it, held for the
// pod's whole life. Once the daemon has been quiet for a tick and has grown since the last
// time, a full GC and malloc_trim(0) hand that memory back (docs/performance.md has figures).

export interface IdleMemoryOptions {
  /** Gives memory back: a full GC, then malloc_trim. */
  reduce: () => void;
  /** The process's resident set size in bytes. */
  rss?: () => number;
  now?: () => number;
  /** Event-loop utilization over the last tick, 0..1. */
  utilization?: () => number;
  tickMs?: number;
  onReduced?: (before: number, after: number, costMs: number) => void;
}

/** Below this share of a tick spent running callbacks, the daemon counts as quiet. */
export const QUIET_UTILIZATION = 0.01;
/** Growth since the last reduction that is worth a GC. */
export const GROWTH_BYTES = 1 << 20;
/** A reduction is not repeated sooner than this many times its own cost. */
export const COST_FACTOR = 10;
const TICK_MS = 1_000;

export interface ReducerState {
  /** RSS after the last reduction (or at start): growth is measured from it. */
  baseline: number;
  /** No reduction before this time. */
  notBefore: number;
}

/** Whether this tick should reduce; lowers the baseline when the process has shrunk by itself. */
export function shouldReduce(state: ReducerState, tick: { now: number; rss: number; utilization: number }): boolean {
  if (tick.rss < state.baseline) state.baseline = tick.rss;
  return tick.utilization < QUIET_UTILIZATION && tick.rss - state.baseline >= GROWTH_BYTES && tick.now >= state.notBefore;
}

function lastTickUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const delta = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    return delta.utilization;
  };
}

/** Checks once a tick on an unref'd timer, so it never keeps the process alive. Returns a canceller. */
export function watchIdleMemory(opts: IdleMemoryOptions): () => void {
  const rss = opts.rss ?? (() => process.memoryUsage.rss());
  const now = opts.now ?? (() => performance.now());
  const utilization = opts.utilization ?? lastTickUtilization();
  const state: ReducerState = { baseline: rss(), notBefore: 0 };
  const timer = setInterval(() => {
    const before = rss();
    const t0 = now();
    if (!shouldReduce(state, { now: t0, rss: before, utilization: utilization() })) return;
    opts.reduce();
    const cost = now() - t0;
    state.baseline = rss();
    state.notBefore = now() + cost * COST_FACTOR;
    opts.onReduced?.(before, state.baseline, cost);
  }, opts.tickMs ?? TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
