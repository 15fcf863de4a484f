import { describe, expect, it } from 'vitest';
import { containerd, packAny, toTimestamp, TypeUrls, ZERO_TIME } from '../../../src/api/index.js';
import { hex } from './wire-bytes.js';

const { v2, v3 } = containerd.task;

// One populated value per message; the same object is fed to both packages.
const samples: Record<string, object> = {
  CreateTaskRequest: {
    id: 'c1', bundle: '/run/b/c1', rootfs: [{ type: 'overlay', source: 'overlay', target: 'x', options: ['ro'] }],
    terminal: true, stdin: '/f/in', stdout: '/f/out', stderr: '/f/err', checkpoint: '/cp', parentCheckpoint: '/pcp',
    options: packAny(TypeUrls.RuncOptions, Uint8Array.of(0x48, 0x01)),
  },
  CreateTaskResponse: { pid: 4242 },
  DeleteRequest: { id: 'c1', execId: 'e1' },
  DeleteResponse: { pid: 4294967295, exitStatus: 137, exitedAt: toTimestamp(1700000000123456789n) },
  ExecProcessRequest: { id: 'c1', execId: 'e1', terminal: true, stdin: 'a', stdout: 'b', stderr: 'c', spec: packAny(TypeUrls.OciProcess, Buffer.from('{}')) },
  ExecProcessResponse: {},
  ResizePtyRequest: { id: 'c1', execId: 'e1', width: 80, height: 24 },
  StateRequest: { id: 'c1', execId: 'e1' },
  StateResponse: {
    id: 'c1', bundle: '/b', pid: 9, status: containerd.v1.types.Status.PAUSING, stdin: 'i', stdout: 'o', stderr: 'e',
    terminal: true, exitStatus: 3, exitedAt: ZERO_TIME, execId: 'e1',
  },
  KillRequest: { id: 'c1', execId: 'e1', signal: 9, all: true },
  CloseIORequest: { id: 'c1', execId: 'e1', stdin: true },
  PidsRequest: { id: 'c1' },
  PidsResponse: { processes: [{ pid: 1 }, { pid: 2, info: packAny(TypeUrls.ProcessDetails, Uint8Array.of(0x0a, 0x01, 0x65)) }] },
  CheckpointTaskRequest: { id: 'c1', path: '/cp', options: packAny(TypeUrls.CheckpointOptions, Uint8Array.of(0x08, 0x01)) },
  UpdateTaskRequest: { id: 'c1', resources: packAny(TypeUrls.OciLinuxResources, Buffer.from('{}')), annotations: { a: 'b' } },
  StartRequest: { id: 'c1', execId: 'e1' },
  StartResponse: { pid: 7 },
  WaitRequest: { id: 'c1', execId: 'e1' },
  WaitResponse: { exitStatus: 1, exitedAt: { seconds: 1, nanos: 2 } },
  StatsRequest: { id: 'c1' },
  StatsResponse: { stats: packAny(TypeUrls.CgroupsV1Metrics, Uint8Array.of(0x12, 0x02, 0x08, 0x01)) },
  ConnectRequest: { id: 'c1' },
  ConnectResponse: { shimPid: 1, taskPid: 2, version: '3' },
  ShutdownRequest: { id: 'c1', now: true },
  PauseRequest: { id: 'c1' },
  ResumeRequest: { id: 'c1' },
};

type Codec = { encode(m: object): { finish(): Uint8Array }; decode(b: Uint8Array): object };
const codec = (pkg: object, name: string) => (pkg as Record<string, Codec>)[name]!;

describe('Task API v2 and v3', () => {
  it('define the same messages', () => {
    expect(Object.keys(v3).sort()).toEqual(Object.keys(v2).sort());
    expect(Object.keys(samples).sort()).toEqual(Object.keys(v2).filter((k) => k !== 'Task').sort());
  });

  it.each(Object.keys(samples))('encode %s identically and read each other\'s bytes', (name) => {
    const fromV2 = codec(v2, name).encode(samples[name]!).finish();
    const fromV3 = codec(v3, name).encode(samples[name]!).finish();
    expect(hex(fromV3)).toBe(hex(fromV2));
    expect(hex(codec(v2, name).encode(codec(v3, name).decode(fromV2)).finish())).toBe(hex(fromV2));
  });

  it('expose the 17 Task rpcs under both services', () => {
    const rpcs = (service: object) => Object.getOwnPropertyNames((service as { prototype: object }).prototype).filter((m) => m !== 'constructor').sort();
    expect(rpcs(v2.Task)).toEqual([
      'checkpoint', 'closeIO', 'connect', 'create', 'delete', 'exec', 'kill', 'pause', 'pids',
      'resizePty', 'resume', 'shutdown', 'start', 'state', 'stats', 'update', 'wait',
    ]);
    expect(rpcs(v3.Task)).toEqual(rpcs(v2.Task));
  });
});
