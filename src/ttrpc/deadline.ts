import Long from 'long';

// setTimeout fires at once (with a warning) for delays above 2^31-1 ms, so longer deadlines are
// reached in several hops.
const MAX_TIMER_MS = 2 ** 31 - 1;

export function int64ToBigInt(value: number | Long | null | undefined): bigint {
  if (value == null) return 0n;
  return typeof value === 'number' ? BigInt(Math.trunc(value)) : BigInt(value.toString());
}

export function millisToNanos(ms: number): Long {
  return Long.fromString(BigInt(Math.round(ms * 1e6)).toString());
}

/** Calls `fire` once `ms` have passed; returns a canceller. */
export function startTimer(ms: number, fire: () => void): () => void {
  const due = Date.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (delay: number) => {
    timer = setTimeout(() => {
      const left = due - Date.now();
      if (left > 0) arm(left);
      else fire();
    }, Math.min(Math.max(delay, 0), MAX_TIMER_MS));
  };
  arm(ms);
  return () => clearTimeout(timer);
}
