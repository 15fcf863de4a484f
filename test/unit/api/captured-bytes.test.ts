import Long from 'long';
import { describe, expect, it } from 'vitest';
import { containerd, google, io, runtimeoptions, ttrpc, anyTypeName, fromTimestamp, packAny, TypeUrls, ZERO_TIME } from '../../../src/api/index.js';
import { hex, wire } from './wire-bytes.js';

const v2 = containerd.task.v2;
const seconds = (ts: google.protobuf.ITimestamp | null | undefined) => String(ts?.seconds);

describe('Go zero time', () => {
  const encodedZero = wire('08 80 92 b8 c3 98 fe ff ff ff 01');

  it('encodes as a 10-byte two\'s complement varint', () => {
    expect(hex(google.protobuf.Timestamp.encode(ZERO_TIME).finish())).toBe(hex(encodedZero));
  });

  it('appears as StateResponse.exited_at (field 10) of a process that has not exited', () => {
    const bytes = v2.StateResponse.encode({ id: 'c1', pid: 42, status: containerd.v1.types.Status.RUNNING, exitedAt: ZERO_TIME }).finish();
    expect(hex(bytes)).toBe(hex(wire('0a 02 "c1" 18 2a 20 02 52 0b 08 80 92 b8 c3 98 fe ff ff ff 01')));
    const decoded = v2.StateResponse.decode(bytes);
    expect(seconds(decoded.exitedAt)).toBe('-62135596800');
    expect(fromTimestamp(decoded.exitedAt)).toBeUndefined();
  });

  it('round-trips through WaitResponse.exited_at', () => {
    const bytes = wire('12 0b 08 80 92 b8 c3 98 fe ff ff ff 01');
    const decoded = v2.WaitResponse.decode(bytes);
    expect(hex(v2.WaitResponse.encode(decoded).finish())).toBe(hex(bytes));
  });
});

describe('`delete` action stdout', () => {
  it('decodes the captured DeleteResponse and re-encodes it byte for byte', () => {
    const bytes = wire('08 b3 97 01 10 89 01 1a 0c 08 b0 91 9a d8 06 10 d2 ef 8e c5 01');
    const decoded = v2.DeleteResponse.decode(bytes);
    expect(decoded.pid).toBe(19379);
    expect(decoded.exitStatus).toBe(137);
    expect(seconds(decoded.exitedAt)).toBe('1795590320');
    expect(decoded.exitedAt?.nanos).toBe(413382610);
    expect(hex(v2.DeleteResponse.encode(decoded).finish())).toBe(hex(bytes));
    expect(hex(v2.DeleteResponse.encode({ pid: 19379, exitStatus: 137, exitedAt: { seconds: 1795590320, nanos: 413382610 } }).finish())).toBe(hex(bytes));
  });

  it('carries an unreadable init pid as uint32 4294967295 without sign extension', () => {
    const bytes = wire('08 ff ff ff ff 0f 10 89 01');
    expect(v2.DeleteResponse.decode(bytes).pid).toBe(4294967295);
    expect(hex(v2.DeleteResponse.encode({ pid: 4294967295, exitStatus: 137 }).finish())).toBe(hex(bytes));
  });
});

describe('event publication', () => {
  const envelope = wire(`
    0a 0c 08 80 e2 cf aa 06 10 80 ca b5 ee 01
    12 07 "default"
    1a 0c "/tasks/start"
    22 26 0a 1b "containerd.events.TaskStart" 12 07 0a 02 "c1" 10 d2 09`);

  it('encodes /tasks/start exactly as the captured Forward call', () => {
    const event = containerd.events.TaskStart.encode({ containerId: 'c1', pid: 1234 }).finish();
    const forward = containerd.services.events.ttrpc.v1.ForwardRequest.encode({
      envelope: {
        timestamp: { seconds: 1700000000, nanos: 500000000 },
        namespace: 'default',
        topic: '/tasks/start',
        event: packAny(TypeUrls.TaskStart, event),
      },
    }).finish();
    expect(hex(forward)).toBe(hex(Uint8Array.from([0x0a, 0x4d, ...envelope])));

    const request = ttrpc.Request.encode({
      service: 'containerd.services.events.ttrpc.v1.Events',
      method: 'Forward',
      payload: forward,
      timeoutNano: 5_000_000_000,
      metadata: [{ key: 'containerd-namespace-ttrpc', value: 'default' }],
    }).finish();
    expect(request.length).toBe(0xb3);
    expect(hex(request)).toBe(hex(wire(`
      0a 2a "containerd.services.events.ttrpc.v1.Events" 12 07 "Forward" 1a 4f 0a 4d`
      + ` ${hex(envelope)}`
      + ` 20 80 e4 97 d0 12 2a 25 0a 1a "containerd-namespace-ttrpc" 12 07 "default"`)));
  });
});

describe('Connect', () => {
  it('matches the captured ConnectResponse{shim_pid 1407, task_pid 1446}', () => {
    const bytes = wire('08 ff 0a 10 a6 0b');
    expect(hex(v2.ConnectResponse.encode({ shimPid: 1407, taskPid: 1446 }).finish())).toBe(hex(bytes));
    const decoded = v2.ConnectResponse.decode(bytes);
    expect([decoded.shimPid, decoded.taskPid, decoded.version]).toEqual([1407, 1446, '']);
  });

  it('decodes the captured ConnectRequest{id "t2"}', () => {
    expect(v2.ConnectRequest.decode(wire('0a 02 "t2"')).id).toBe('t2');
  });
});

describe('runtime options on `start` stdin', () => {
  it('reads `ctr run --runc-binary` as runc Options.binary_name', () => {
    const binary = '/usr/local/bin/runc-custom';
    const stdin = wire(`0a 1a "containerd.runc.v1.Options" 12 1c 32 1a "${binary}"`);
    const any = google.protobuf.Any.decode(stdin);
    expect(anyTypeName(any)).toBe(TypeUrls.RuncOptions);
    expect(containerd.runc.v1.Options.decode(any.value).binaryName).toBe(binary);
  });

  it('reads `ctr --runtime-config-path` as runtimeoptions config_path', () => {
    const path = '/etc/tsshim/shim.toml';
    const stdin = wire(`0a 19 "runtimeoptions.v1.Options" 12 17 12 15 "${path}"`);
    const any = google.protobuf.Any.decode(stdin);
    expect(anyTypeName(any)).toBe(TypeUrls.RuntimeOptions);
    expect(runtimeoptions.v1.Options.decode(any.value).configPath).toBe(path);
  });

  it('treats empty stdin as an Any without type', () => {
    expect(anyTypeName(google.protobuf.Any.decode(new Uint8Array()))).toBe('');
  });
});

describe('Stats payloads', () => {
  it('encodes cgroup v1 memory entries at fields 33..36 and keeps uint64 counters above 2^53', () => {
    const metrics = io.containerd.cgroups.v1.Metrics.encode({
      pids: { current: 3 },
      memory: { usage: { usage: 1 }, kernelTcp: { limit: Long.MAX_UNSIGNED_VALUE } },
    }).finish();
    const decoded = io.containerd.cgroups.v1.Metrics.decode(metrics);
    expect(String(decoded.pids?.current)).toBe('3');
    expect(String(decoded.memory?.kernelTcp?.limit)).toBe('18446744073709551615');
    expect(hex(metrics)).toContain(hex(wire('8a 02 02 10 01')));
  });
});
