import type { google } from './gen/proto.js';

const ZERO_SECONDS = -62135596800;
const NS_PER_S = 1_000_000_000n;

/** Go's zero time (0001-01-01T00:00:00Z), which containerd uses for "has not exited". */
export const ZERO_TIME: Readonly<google.protobuf.ITimestamp> = Object.freeze({ seconds: ZERO_SECONDS, nanos: 0 });

/** From a Date, or from nanoseconds since the epoch when sub-millisecond precision matters. */
export function toTimestamp(time: Date | bigint): google.protobuf.ITimestamp {
  if (typeof time === 'bigint') {
    let seconds = time / NS_PER_S;
    let nanos = time % NS_PER_S;
    if (nanos < 0n) {
      seconds -= 1n;
      nanos += NS_PER_S;
    }
    return { seconds: Number(seconds), nanos: Number(nanos) };
  }
  const ms = time.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** `undefined` when absent or Go's zero time; decoded int64 seconds may arrive as a Long. */
export function fromTimestamp(ts: google.protobuf.ITimestamp | null | undefined): Date | undefined {
  if (ts == null) return undefined;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0);
  const nanos = ts.nanos ?? 0;
  if (seconds === ZERO_SECONDS && nanos === 0) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1_000_000));
}
