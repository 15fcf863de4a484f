import { describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import { parseConfig, type ShimConfig } from '../../../src/runtime/config.js';
import { RUNTIME_ANNOTATION, selectRuntime } from '../../../src/runtime/select.js';

function config(text: string): ShimConfig {
  const report = parseConfig(text, '/etc/tsshim/config.toml');
  if (!report.config) throw new Error(JSON.stringify(report.problems));
  return report.config;
}

const CONFIG = config(`
default_runtime = "runc"
[runtimes.runc]
root = "/run/tsshim/runc"
flags = ["--debug"]
[runtimes.gvisor]
binary = "runsc"
[runtimes.gvisor.options]
platform = "ptrace"
`);

describe('runtime selection', () => {
  it('without annotation or runc options the default runtime is used', () => {
    expect(selectRuntime(CONFIG)).toMatchObject({ name: 'runc', binary: 'runc', root: '/run/tsshim/runc' });
  });

  it('the annotation picks a runtime over runc options and the default', () => {
    const rt = selectRuntime(CONFIG, {
      annotations: { [RUNTIME_ANNOTATION]: 'gvisor' },
      runcOptions: { binaryName: 'crun', root: '/other' },
    });
    expect(rt).toMatchObject({ name: 'gvisor', binary: 'runsc', dialect: 'runsc', root: '/run/containerd/runsc' });
    expect(rt.binarySource).toBe('runtimes.gvisor.binary in /etc/tsshim/config.toml');
  });

  it('runc options binary_name keeps the default runtime settings but runs that binary', () => {
    const rt = selectRuntime(CONFIG, { runcOptions: { binaryName: '/usr/bin/crun' } });
    expect(rt).toMatchObject({
      name: 'runc',
      binary: '/usr/bin/crun',
      dialect: 'crun',
      root: '/run/tsshim/runc',
      flags: ['--debug'],
      binarySource: 'binary_name of containerd.runc.v1.Options',
    });
  });

  it('runc options root and systemd_cgroup override the default runtime', () => {
    const rt = selectRuntime(CONFIG, { runcOptions: { binaryName: '', root: '/run/custom', systemdCgroup: true } });
    expect(rt).toMatchObject({ binary: 'runc', root: '/run/custom', systemdCgroup: true });
  });

  it('an annotation naming no runtime is refused with the names that exist', () => {
    let err: unknown;
    try {
      selectRuntime(CONFIG, { annotations: { [RUNTIME_ANNOTATION]: 'kata' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(Code.InvalidArgument);
    expect((err as StatusError).message).toBe(
      'annotation io.containerd.tsshim.runtime="kata" names no runtime of /etc/tsshim/config.toml (known: runc, gvisor)',
    );
  });
});
