import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { containerd, runtimeoptions } from '../../../src/api/gen/proto.js';
import { joinShimCgroup } from '../../../src/shim/start-options.js';

const runcOptions = (o: containerd.runc.v1.IOptions) => ({ typeUrl: 'containerd.runc.v1.Options', value: containerd.runc.v1.Options.encode(o).finish() });
const ownCgroups = () => readFileSync('/proc/self/cgroup', 'utf8');

describe('joinShimCgroup', () => {
  it('does nothing without options or without a shim cgroup in them', () => {
    const before = ownCgroups();
    expect(joinShimCgroup(undefined)).toBeUndefined();
    expect(joinShimCgroup(runcOptions({ binaryName: 'crun' }))).toBeUndefined();
    const runtimeOpts = { typeUrl: 'runtimeoptions.v1.Options', value: runtimeoptions.v1.Options.encode({ configPath: '/etc/x.toml' }).finish() };
    expect(joinShimCgroup(runtimeOpts)).toBeUndefined();
    expect(ownCgroups()).toBe(before);
  });

  it('ignores options it cannot decode: Create reports them precisely', () => {
    expect(joinShimCgroup({ typeUrl: 'example.Other', value: new Uint8Array([1]) })).toBeUndefined();
    expect(joinShimCgroup({ typeUrl: 'containerd.runc.v1.Options', value: new Uint8Array([0xff, 0xff]) })).toBeUndefined();
  });

  it('fails the start when the named cgroup cannot be joined', () => {
    const before = ownCgroups();
    expect(() => joinShimCgroup(runcOptions({ shimCgroup: '/tsshim-unit-no-such-cgroup' }))).toThrow(/failed to load cgroup \/tsshim-unit-no-such-cgroup/);
    expect(() => joinShimCgroup(runcOptions({ shimCgroup: 'relative' }))).toThrow(/must be an absolute path/);
    expect(ownCgroups()).toBe(before);
  });
});
