import fc from 'fast-check';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { containerd, google, packAny } from '../../../src/api/index.js';
import { hex } from './wire-bytes.js';

const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = fc.uint8Array({ maxLength: 32 });
const timestamp = fc.record({
  seconds: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((s) => Long.fromString(s.toString())),
  nanos: fc.integer({ min: 0, max: 999_999_999 }),
});

// Field values as plain data: decoded int64s arrive as Long and bytes as Buffer.
const tsView = (ts: google.protobuf.ITimestamp | null | undefined) =>
  ts == null ? null : { seconds: String(ts.seconds ?? 0), nanos: ts.nanos ?? 0 };
const anyView = (any: google.protobuf.IAny | null | undefined) =>
  any == null ? null : { typeUrl: any.typeUrl ?? '', value: hex(any.value ?? new Uint8Array()) };

describe('encode → decode round trip', () => {
  it('preserves every CreateTaskRequest field', () => {
    const request = fc.record({
      id: fc.string(), bundle: fc.string(),
      rootfs: fc.array(fc.record({ type: fc.string(), source: fc.string(), target: fc.string(), options: fc.array(fc.string()) }), { maxLength: 4 }),
      terminal: fc.boolean(), stdin: fc.string(), stdout: fc.string(), stderr: fc.string(),
      checkpoint: fc.string(), parentCheckpoint: fc.string(),
      options: fc.option(fc.tuple(fc.string(), bytes).map(([url, value]) => packAny(url, value)), { nil: null }),
    });
    fc.assert(fc.property(request, (original) => {
      const encoded = containerd.task.v2.CreateTaskRequest.encode(original).finish();
      const m = containerd.task.v2.CreateTaskRequest.decode(encoded);
      expect({
        id: m.id, bundle: m.bundle, terminal: m.terminal, stdin: m.stdin, stdout: m.stdout, stderr: m.stderr,
        checkpoint: m.checkpoint, parentCheckpoint: m.parentCheckpoint,
        rootfs: m.rootfs.map((r) => ({ type: r.type, source: r.source, target: r.target, options: r.options })),
        options: anyView(m.options),
      }).toEqual({ ...original, options: anyView(original.options) });
      expect(hex(containerd.task.v3.CreateTaskRequest.encode(m).finish())).toBe(hex(encoded));
    }));
  });

  it('preserves TaskExit including the full int64 range of exited_at.seconds', () => {
    const exit = fc.record({
      containerId: fc.string(), id: fc.string(), pid: uint32, exitStatus: uint32,
      exitedAt: fc.option(timestamp, { nil: null }),
    });
    fc.assert(fc.property(exit, (original) => {
      const m = containerd.events.TaskExit.decode(containerd.events.TaskExit.encode(original).finish());
      expect({ containerId: m.containerId, id: m.id, pid: m.pid, exitStatus: m.exitStatus, exitedAt: tsView(m.exitedAt) })
        .toEqual({ ...original, exitedAt: tsView(original.exitedAt) });
    }));
  });
});
