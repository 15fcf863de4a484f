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

  it('reduces once per burst, waits out COST_FACTOR times its cost, and never while busy', () => {
    vi.useFakeTimers();
    let rss = 20 * MiB;
    let busy = 0;
    let clock = 0;
    const reduce = vi.fn(() => {
      clock += 40; // the reduction itself takes 40 ms
      rss = 21 * MiB;
    });
    const cancel = watchIdleMemory({ reduce, rss: () => rss, now: () => clock, utilization: () => busy, tickMs: 1_000 });
    const tick = () => {
      clock += 1_000;
      vi.advanceTimersByTime(1_000);
    };
    tick();
    expect(reduce).not.toHaveBeenCalled();
    rss = 60 * MiB;
    busy = 0.5;
    tick();
    expect(reduce).not.toHaveBeenCalled();
    busy = 0;
    tick();
    expect(reduce).toHaveBeenCalledTimes(1);
    // Grown again at once: the next reduction waits COST_FACTOR × 40 ms after the last one.
    rss = 30 * MiB;
    expect(COST_FACTOR * 40).toBeLessThan(1_000);
    tick();
    expect(reduce).toHaveBeenCalledTimes(2);
    tick();
    tick();
    expect(reduce).toHaveBeenCalledTimes(2);
    cancel();
    rss = 90 * MiB;
    tick();
    expect(reduce).toHaveBeenCalledTimes(2);
  });

  it('backs off for COST_FACTOR times a slow reduction', () => {
    vi.useFakeTimers();
    let rss = 20 * MiB;
    let clock = 0;
    const reduce = vi.fn(() => {
      clock += 500;
      rss = 20 * MiB;
    });
    const cancel = watchIdleMemory({ reduce, rss: () => rss, now: () => clock, utilization: () => 0, tickMs: 1_000 });
    const tick = () => {
      clock += 1_000;
      vi.advanceTimersByTime(1_000);
    };
    rss = 40 * MiB;
    tick();
    expect(reduce).toHaveBeenCalledTimes(1);
    // 500 ms × 10 = 5 s of back-off: growth during it waits.
    for (let i = 0; i < 4; i++) {
      rss = 40 * MiB;
      tick();
    }
    expect(reduce).toHaveBeenCalledTimes(1);
    tick();
    tick();
    expect(reduce).toHaveBeenCalledTimes(2);
    cancel();
  });
});
