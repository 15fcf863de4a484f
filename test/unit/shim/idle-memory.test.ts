import { afterEach, describe, expect, it, vi } from 'vitest';
import { COST_FACTOR, GROWTH_BYTES, QUIET_UTILIZATION, shouldReduce, watchIdleMemory } from '../../../src/shim/idle-memory.js';

const MiB = 1 << 20;

describe('idle memory reducer', () => {
  afterEach(() => vi.useRealTimers());

  it('reduces only when quiet, grown by the threshold and past the back-off', () => {
    const state = { baseline: 50 * MiB, notBefore: 1_000 };
    const quiet = QUIET_UTILIZATION / 2;
    expect(shouldReduce(state, { now: 2_000, rss: 50 * MiB + GROWTH_BYTES - 1, utilization: quiet })).toBe(false);
    expect(shouldReduce(state, { now: 2_000, rss: 60 * MiB, utilization: QUIET_UTILIZATION })).toBe(false);
    expect(shouldReduce(state, { now: 999, rss: 60 * MiB, utilization: quiet })).toBe(false);
    expect(shouldReduce(state, { now: 2_000, rss: 50 * MiB + GROWTH_BYTES, utilization: quiet })).toBe(true);
  });

  it('measures growth from the lowest size seen, so shrinking by itself does not hide growth', () => {
    const state = { baseline: 50 * MiB, notBefore: 0 };
    expect(shouldReduce(state, { now: 0, rss: 40 * MiB, utilization: 0 })).toBe(false);
    expect(state.baseline).toBe(40 * MiB);
    expect(shouldReduce(state, { now: 0, rss: 41 * MiB, utilization: 0 })).toBe(true);
  });

  /** A reducer on fake timers and a fake clock; a reduction costs costMs and leaves rss at afterMiB. */
  const simulate = (costMs: number, afterMiB: number) => {
    vi.useFakeTimers();
    const sim = { rss: 20 * MiB, busy: 0, clock: 0, reduce: vi.fn(), tick: () => {}, cancel: () => {} };
    sim.reduce.mockImplementation(() => {
      sim.clock += costMs;
      sim.rss = afterMiB * MiB;
    });
    sim.cancel = watchIdleMemory({ reduce: sim.reduce, rss: () => sim.rss, now: () => sim.clock, utilization: () => sim.busy, tickMs: 1_000 });
    sim.tick = () => {
      sim.clock += 1_000;
      vi.advanceTimersByTime(1_000);
    };
    return sim;
  };

  it('reduces once per burst, waits out COST_FACTOR times its cost, and never while busy', () => {
    const sim = simulate(40, 21);
    sim.tick();
    expect(sim.reduce).not.toHaveBeenCalled();
    sim.rss = 60 * MiB;
    sim.busy = 0.5;
    sim.tick();
    expect(sim.reduce).not.toHaveBeenCalled();
    sim.busy = 0;
    sim.tick();
    expect(sim.reduce).toHaveBeenCalledTimes(1);
    // Grown again at once: the next reduction waits COST_FACTOR × 40 ms after the last one.
    sim.rss = 30 * MiB;
    expect(COST_FACTOR * 40).toBeLessThan(1_000);
    sim.tick();
    expect(sim.reduce).toHaveBeenCalledTimes(2);
    sim.tick();
    sim.tick();
    expect(sim.reduce).toHaveBeenCalledTimes(2);
    sim.cancel();
    sim.rss = 90 * MiB;
    sim.tick();
    expect(sim.reduce).toHaveBeenCalledTimes(2);
  });

  it('backs off for COST_FACTOR times a slow reduction', () => {
    const sim = simulate(500, 20);
    sim.rss = 40 * MiB;
    sim.tick();
    expect(sim.reduce).toHaveBeenCalledTimes(1);
    // 500 ms × 10 = 5 s of back-off: growth during it waits.
    for (let i = 0; i < 4; i++) {
      sim.rss = 40 * MiB;
      sim.tick();
    }
    expect(sim.reduce).toHaveBeenCalledTimes(1);
    sim.tick();
    sim.tick();
    expect(sim.reduce).toHaveBeenCalledTimes(2);
    sim.cancel();
  });
});
