import { describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import { decodeEventAny, toJson } from '../../../src/api/event-json.js';

describe('decodeEventAny', () => {
  it('decodes a known task event, with exited_at as an RFC 3339 string', () => {
    const value = containerd.events.TaskExit.encode({
      containerId: 'c1', id: 'c1', pid: 42, exitStatus: 137, exitedAt: { seconds: 1_700_000_000, nanos: 123_456_789 },
    }).finish();
    expect(decodeEventAny({ typeUrl: 'containerd.events.TaskExit', value })).toEqual({
      containerId: 'c1', id: 'c1', pid: 42, exitStatus: 137, exitedAt: '2023-11-14T22:13:20.123Z',
    });
  });

  it('finds the type by the last part of a URL with a host prefix', () => {
    const value = containerd.events.TaskStart.encode({ containerId: 'c2', pid: 7 }).finish();
    expect(decodeEventAny({ typeUrl: 'types.containerd.io/containerd.events.TaskStart', value })).toEqual({ containerId: 'c2', pid: 7 });
  });

  it('keeps an unknown type as its URL and base64 value', () => {
    expect(decodeEventAny({ typeUrl: 'example.Other', value: new Uint8Array([1, 2, 3]) })).toEqual({ typeUrl: 'example.Other', value: 'AQID' });
  });

  it('gives null for a missing event or one without a type', () => {
    expect(decodeEventAny(undefined)).toBeNull();
    expect(decodeEventAny({ value: new Uint8Array([1]) })).toBeNull();
  });
});

/** What protobufjs gives for a 64-bit field: a Long. */
const long = (n: number) => ({ low: n % 2 ** 32, high: Math.floor(n / 2 ** 32), toNumber: () => n });

describe('toJson', () => {
  it('turns bytes into base64, Longs into numbers and recurses into arrays and objects', () => {
    expect(toJson({ b: new Uint8Array([255]), n: long(2 ** 40), list: [{ x: null }] })).toEqual({ b: '/w==', n: 2 ** 40, list: [{ x: null }] });
  });

  it('reads a Timestamp with Long seconds', () => {
    expect(toJson({ seconds: long(0), nanos: 1_500_000 })).toBe('1970-01-01T00:00:00.001Z');
  });
});
