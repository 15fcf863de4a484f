import { describe, expect, it } from 'vitest';
import { defaultSpec, type SpecInput } from '../../../src/ctl/oci-spec.js';

const input: SpecInput = { id: 'c1', namespace: 'ns', rootfs: '/srv/rootfs', args: ['sh', '-c', 'true'], env: ['A=1'], terminal: false, annotations: { k: 'v' } };

type Spec = {
  process: { terminal: boolean; args: string[]; env: string[] };
  root: { path: string; readonly: boolean };
  annotations: Record<string, string>;
  mounts: { destination: string }[];
  linux: { cgroupsPath: string; namespaces: { type: string }[] };
};

describe('defaultSpec', () => {
  it('fills in the command, a read-only root, annotations and the cgroup ctr would use', () => {
    const spec = defaultSpec(input) as Spec;
    expect(spec.process.args).toEqual(['sh', '-c', 'true']);
    expect(spec.process.terminal).toBe(false);
    expect(spec.root).toEqual({ path: '/srv/rootfs', readonly: true });
    expect(spec.annotations).toEqual({ k: 'v' });
    expect(spec.linux.cgroupsPath).toBe('/ns/c1');
  });

  it('puts PATH first and the caller environment last, with TERM only for a terminal', () => {
    expect((defaultSpec(input) as Spec).process.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1']);
    const tty = defaultSpec({ ...input, terminal: true }) as Spec;
    expect(tty.process.terminal).toBe(true);
    expect(tty.process.env.slice(1)).toEqual(['TERM=xterm', 'A=1']);
  });

  it('gives the container its own pid, network, ipc, uts and mount namespaces and /proc, /dev, /sys', () => {
    const spec = defaultSpec(input) as Spec;
    expect(spec.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(spec.mounts.map((m) => m.destination)).toEqual(expect.arrayContaining(['/proc', '/dev', '/dev/pts', '/sys']));
  });
});
