
/**
 * How long the reader of a process's output may make no progress before the exit is reported
 * anyway. A reader that is alive takes something far more often: under six parallel 50 MB
 * writers on two busy cores the longest pause seen was a few hundred milliseconds
 * (docs/output-delivery.md); a reader that is gone (a detached `ctr run -d`, a killed client)
 * costs the task this much exit latency, once.
 */
export const DELIVERY_STALL_MS = 2_000;
/** Polling starts fast, as most outputs are through within a millisecond of the exit. */
const POLL_FIRST_MS = 1;
const POLL_MAX_MS = 20;

/** One path from a process's output to its reader, observed without disturbing it. */
export interface OutputProbe {
  /** Bytes the reader has not taken yet: in the process's pipe, in the shim, in the FIFO or logger pipe. */
  pending(): number;
  /** Bytes the reader has taken so far. */
  taken(): number;
}

export interface DeliveryReport {
  delivered: boolean;
  /** What the reader had not taken when the wait gave up (0 when delivered). */
  atRisk: number;
  waitedMs: number;
  /** The longest time the reader went without taking anything while we waited. */
  longestStallMs: number;
}

/**
 * Resolves once nothing is pending on any probe, or once the reader has made no progress for
 * `stallMs`. Progress is the reader taking bytes, or the pending total shrinking. Pipes a
 * background child still holds count as delivered when empty: waiting for their end of file
 * could take for ever.
 */
export function awaitDelivery(probes: readonly OutputProbe[], stallMs = DELIVERY_STALL_MS): Promise<DeliveryReport> {
  const sum = (f: (p: OutputProbe) => number) => probes.reduce((n, p) => n + f(p), 0);
  const start = performance.now();
  return new Promise((resolve) => {
    let lastCheck = start;
    let lastProgress = start;
    let longestStall = 0;
    let lastTaken = sum((p) => p.taken());
    let lastPending = Number.POSITIVE_INFINITY;
    let delay = POLL_FIRST_MS;
    const check = () => {
      const now = performance.now();
      // Time the event loop spent elsewhere is not time the reader had: only count what we saw.
      const lag = now - lastCheck - POLL_MAX_MS;
      if (lag > 0) lastProgress += lag;
      lastCheck = now;
      const pending = sum((p) => p.pending());
      const taken = sum((p) => p.taken());
      const stall = now - lastProgress;
      if (pending === 0) {
        resolve({ delivered: true, atRisk: 0, waitedMs: now - start, longestStallMs: Math.max(longestStall, stall) });
        return;
      }
      if (taken > lastTaken || pending < lastPending) {
        longestStall = Math.max(longestStall, stall);
        lastProgress = now;
        delay = POLL_FIRST_MS;
      } else if (stall >= stallMs) {
        resolve({ delivered: false, atRisk: pending, waitedMs: now - start, longestStallMs: Math.max(longestStall, stall) });
        return;
      }
      lastTaken = taken;
      lastPending = pending;
      setTimeout(check, delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    };
    check();
  });
}
