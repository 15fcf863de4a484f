import { describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/index.js';
import { hex, wire } from './wire-bytes.js';

// A newer containerd may send fields this shim does not know; every wire type must be skipped.
const unknownFields = wire(`
  78 07
  79 01 02 03 04 05 06 07 08
  7a 03 "new"
  7d 01 02 03 04`);

describe('decoding fields from a newer containerd', () => {
  it('skips unknown fields of every wire type in ConnectResponse', () => {
    const decoded = containerd.task.v3.ConnectResponse.decode(wire(`08 ff 0a ${hex(unknownFields)} 10 a6 0b`));
    expect([decoded.shimPid, decoded.taskPid]).toEqual([1407, 1446]);
  });

  it('skips a future Mount field 9 inside CreateTaskRequest.rootfs', () => {
    const mount = wire('0a 07 "overlay" 12 07 "overlay" 22 0c "lowerdir=/l1" 4a 04 "next"');
    const request = wire(`0a 02 "c1" 1a ${mount.length.toString(16)} ${hex(mount)} 32 04 "/out"`);
    const decoded = containerd.task.v2.CreateTaskRequest.decode(request);
    expect(decoded.id).toBe('c1');
    expect(decoded.stdout).toBe('/out');
    expect(decoded.rootfs).toHaveLength(1);
    expect(decoded.rootfs[0]).toMatchObject({ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/l1'] });
  });

  it('reads runc Options from containerd 2.x (task_api_version 13) next to an unknown field 20', () => {
    const decoded = containerd.runc.v1.Options.decode(wire('32 04 "crun" 48 01 68 03 a2 01 01 78'));
    expect(decoded.binaryName).toBe('crun');
    expect(decoded.systemdCgroup).toBe(true);
    expect(decoded.taskApiVersion).toBe(3);
  });
});
