import { describe, expect, it } from 'vitest';
import { fromTimestamp, google, toTimestamp, ZERO_TIME } from '../../../src/api/index.js';
import { hex, wire } from './wire-bytes.js';

describe('timestamps', () => {
  it('keep nanosecond precision when built from a bigint', () => {
    expect(toTimestamp(1700000000500000001n)).toEqual({ seconds: 1700000000, nanos: 500000001 });
    expect(toTimestamp(-1n)).toEqual({ seconds: -1, nanos: 999999999 });
  });

  it('encode the captured envelope time 1700000000.5 s from a Date', () => {
    const ts = toTimestamp(new Date(1700000000500));
    expect(hex(google.protobuf.Timestamp.encode(ts).finish())).toBe(hex(wire('08 80 e2 cf aa 06 10 80 ca b5 ee 01')));
  });

  it('decode back to the same Date (millisecond precision)', () => {
    const date = new Date('2026-05-01T12:34:56.789Z');
    const decoded = google.protobuf.Timestamp.decode(google.protobuf.Timestamp.encode(toTimestamp(date)).finish());
    expect(fromTimestamp(decoded)?.toISOString()).toBe(date.toISOString());
  });

  it('read Go\'s zero time and an absent time as "never"', () => {
    expect(fromTimestamp(ZERO_TIME)).toBeUndefined();
    expect(fromTimestamp(google.protobuf.Timestamp.decode(wire('08 80 92 b8 c3 98 fe ff ff ff 01')))).toBeUndefined();
    expect(fromTimestamp(undefined)).toBeUndefined();
    expect(fromTimestamp(null)).toBeUndefined();
  });

  it('read the Unix epoch as a real time, not as "never"', () => {
    expect(fromTimestamp({ seconds: 0, nanos: 0 })?.getTime()).toBe(0);
  });
});
