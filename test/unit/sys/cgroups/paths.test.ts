import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupOfPid } from '../../../../src/sys/cgroups/index.js';
import { parseCgroupMounts } from '../../../../src/sys/cgroups/paths.js';

const HYBRID_MOUNTINFO = `\
24 30 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 24 0:23 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
27 26 0:24 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
28 26 0:25 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
29 26 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
30 26 0:27 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
31 26 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
32 26 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
`;

describe('cgroupOfPid', () => {
  let proc: string;
  beforeEach(() => {
    proc = mkdtempSync(join(tmpdir(), 'proc-'));
    mkdirSync(join(proc, 'self'));
    mkdirSync(join(proc, '42'));
  });
  afterEach(() => rmSync(proc, { recursive: true, force: true }));

  const write = (mountinfo: string, cgroup: string) => {
    writeFileSync(join(proc, 'self', 'mountinfo'), mountinfo);
    writeFileSync(join(proc, '42', 'cgroup'), cgroup);
  };

  it('on a hybrid host resolves every v1 controller, co-mounted ones too, and ignores named and unified hierarchies', () => {
    write(HYBRID_MOUNTINFO, '5:net_cls,net_prio:/default/c1\n4:memory:/default/c1\n3:cpuacct:/default/c1\n2:cpu:/default/c1\n1:name=systemd:/default/c1\n0::/\n');
    const cg = cgroupOfPid(42, proc);
    expect(cg).toEqual({
      version: 1,
      controllers: new Map([
        ['net_cls', '/sys/fs/cgroup/net_cls,net_prio/default/c1'],
        ['net_prio', '/sys/fs/cgroup/net_cls,net_prio/default/c1'],
        ['memory', '/sys/fs/cgroup/memory/default/c1'],
        ['cpuacct', '/sys/fs/cgroup/cpuacct/default/c1'],
        ['cpu', '/sys/fs/cgroup/cpu/default/c1'],
      ]),
    });
  });

  it('on a unified host gives the one v2 directory', () => {
    write('30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n', '0::/k8s/pod1/c1\n');
    expect(cgroupOfPid(42, proc)).toEqual({ version: 2, path: '/sys/fs/cgroup/k8s/pod1/c1' });
  });

  it('maps paths through a mount whose root is a sub-cgroup, and decodes escaped mount points', () => {
    write('30 24 0:26 /kubepods /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n', '0::/kubepods/pod1/c1\n');
    expect(cgroupOfPid(42, proc)).toEqual({ version: 2, path: '/sys/fs/my cgroup/pod1/c1' });
  });

  it('fails when none of the process cgroups is mounted here', () => {
    write('24 30 0:21 / /sys rw - sysfs sysfs rw\n', '0::/c1\n');
    expect(() => cgroupOfPid(42, proc)).toThrow(/no cgroup of pid 42/);
  });
});

describe('parseCgroupMounts', () => {
  it('lists only cgroup and cgroup2 mounts, with their root, mount point and super options', () => {
    expect(parseCgroupMounts(HYBRID_MOUNTINFO).map((m) => [m.fstype, m.mountPoint, m.superOptions.join(',')])).toEqual([
      ['cgroup', '/sys/fs/cgroup/cpu', 'rw,cpu'],
      ['cgroup', '/sys/fs/cgroup/cpuacct', 'rw,cpuacct'],
      ['cgroup', '/sys/fs/cgroup/memory', 'rw,memory'],
      ['cgroup', '/sys/fs/cgroup/systemd', 'rw,name=systemd'],
      ['cgroup2', '/sys/fs/cgroup/unified', 'rw'],
      ['cgroup', '/sys/fs/cgroup/net_cls,net_prio', 'rw,net_cls,net_prio'],
    ]);
  });

  it('skips lines without the optional-fields separator', () => {
    expect(parseCgroupMounts('garbage line\n\n')).toEqual([]);
  });
});
