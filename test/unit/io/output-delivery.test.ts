import { describe, expect, it } from 'vitest';
import { awaitDelivery, type OutputProbe } from '../../../src/io/output-delivery.js';

/** A reader that takes `step` bytes every `everyMs` until `total` is gone (or never, with step 0). */
function drainingProbe(total: number, step: number, everyMs: number): OutputProbe & { stop(): void } {
  let taken = 0;
  const timer = setInterval(() => (taken = Math.min(total, taken + step)), everyMs);
  return { pending: () => total - taken, taken: () => taken, stop: () => clearInterval(timer) };
}

describe('awaitDelivery', () => {
  it('resolves at once when nothing is pending', async () => {
    const r = await awaitDelivery([{ pending: () => 0, taken: () => 0 }], 1000);
    expect(r).toMatchObject({ delivered: true, atRisk: 0 });
  });

  it('waits for a slow reader that keeps taking, however long the whole takes', async () => {
    const p = drainingProbe(100_000, 1000, 5);
    try {
      // 100 steps of 5 ms is far longer than the bound: only a stall counts.
      const r = await awaitDelivery([p], 100);
      expect(r).toMatchObject({ delivered: true, atRisk: 0 });
      expect(p.pending()).toBe(0);
    } finally {
      p.stop();
    }
  });

  it('gives up on a reader that takes nothing and reports what was at risk', async () => {
    const r = await awaitDelivery([{ pending: () => 4242, taken: () => 0 }, { pending: () => 8, taken: () => 0 }], 50);
    expect(r).toMatchObject({ delivered: false, atRisk: 4250 });
    expect(r.longestStallMs).toBeGreaterThanOrEqual(50);
  });

  it('gives up on a reader that stops half way, with the rest at risk', async () => {
    let taken = 0;
    const timer = setInterval(() => (taken = Math.min(500, taken + 100)), 2);
    try {
      const r = await awaitDelivery([{ pending: () => 1000 - taken, taken: () => taken }], 80);
      expect(r).toMatchObject({ delivered: false, atRisk: 500 });
    } finally {
      clearInterval(timer);
    }
  });

  it('does not count time the event loop was busy elsewhere as the reader stalling', async () => {
    let calls = 0;
    const probe: OutputProbe = {
      pending: () => {
        calls++;
        // The reader takes everything while the loop is blocked right after the first look.
        return calls > 2 ? 0 : 10;
      },
      taken: () => 0,
    };
    const result = awaitDelivery([probe], 30);
    const until = Date.now() + 200;
    while (Date.now() < until) {
      // Block the loop past the bound.
    }
    expect(await result).toMatchObject({ delivered: true });
  });
});
