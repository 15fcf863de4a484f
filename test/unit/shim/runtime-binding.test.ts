import { describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import { decodeOptions } from '../../../src/shim/runtime-binding.js';

describe('runtime options types', () => {
  it('accepts the legacy containerd.linux.runc.CreateOptions and reads its fields as the runc Options twins', () => {
    const value = containerd.linux.runc.CreateOptions.encode({
      noPivotRoot: true, noNewKeyring: true, shimCgroup: '/shims/a', ioUid: 1000, ioGid: 1001,
      criuWorkPath: '/w', criuImagePath: '/i', openTcp: true,
    }).finish();
    const { runc } = decodeOptions({ typeUrl: 'containerd.linux.runc.CreateOptions', value });
    expect(runc).toMatchObject({ noPivotRoot: true, noNewKeyring: true, shimCgroup: '/shims/a', ioUid: 1000, ioGid: 1001, criuWorkPath: '/w', criuImagePath: '/i', binaryName: '' });
  });

  it('decodes the legacy type by its field numbers: no_new_keyring is 8 and shim_cgroup 9', () => {
    // 40 01 = field 8 varint 1; 4a 02 "/x" = field 9 string.
    const value = Uint8Array.from([0x40, 0x01, 0x4a, 0x02, 0x2f, 0x78]);
    expect(decodeOptions({ typeUrl: 'containerd.linux.runc.CreateOptions', value }).runc).toMatchObject({ noNewKeyring: true, shimCgroup: '/x', noPivotRoot: false });
  });

  it('still refuses any other type, naming the three it accepts', () => {
    expect(() => decodeOptions({ typeUrl: 'example.Other', value: new Uint8Array() })).toThrow(
      'unsupported runtime options type example.Other: expected containerd.runc.v1.Options, runtimeoptions.v1.Options or containerd.linux.runc.CreateOptions',
    );
  });
});
