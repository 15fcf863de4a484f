import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import type { ConfigLocation } from '../../../src/runtime/config-path.js';
import { BUILTIN_CONFIG, formatProblem, loadConfig, parseConfig, readConfig } from '../../../src/runtime/config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsshim-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(name: string, text: string): Promise<ConfigLocation> {
  const path = join(dir, name);
  await writeFile(path, text);
  return { path, explicit: true, source: 'the test' };
}

async function loadError(location: ConfigLocation): Promise<StatusError> {
  let err: unknown;
  try {
    loadConfig(location);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StatusError);
  return err as StatusError;
}

const FULL = `
default_runtime = "gvisor"

[runtimes.runc]
binary = "/usr/sbin/runc"
root = "/run/tsshim/runc"
flags = ["--debug"]
systemd_cgroup = true
[runtimes.runc.env]
FOO = "bar"

[runtimes.gvisor]
binary = "runsc"
[runtimes.gvisor.options]
platform = "ptrace"
network = "none"
debug = true
overlay = false
num-network-channels = 2

[runtimes.crun]
`;

describe('config file', () => {
  it('startup_snapshot is off unless the top-level key is true; a value that is not a boolean is refused', () => {
    expect(parseConfig('', 'f').config?.startupSnapshot).toBe(false);
    expect(BUILTIN_CONFIG.startupSnapshot).toBe(false);
    expect(parseConfig('startup_snapshot = true', 'f').config?.startupSnapshot).toBe(true);
    expect(parseConfig('startup_snapshot = false', 'f').config?.startupSnapshot).toBe(false);
    expect(parseConfig('startup_snapshot = "yes"', 'f').problems.map(formatProblem)).toEqual(['f: startup_snapshot: expected a boolean, got string']);
  });

  it('grouping is "pod" unless the top-level key names "task" or "node"; anything else is refused', () => {
    expect(parseConfig('', 'f').config?.grouping).toBe('pod');
    expect(BUILTIN_CONFIG.grouping).toBe('pod');
    for (const g of ['task', 'pod', 'node']) expect(parseConfig(`grouping = "${g}"`, 'f').config?.grouping).toBe(g);
    expect(parseConfig('grouping = "cluster"', 'f').problems.map(formatProblem)).toEqual(['f: grouping: expected one of "task", "pod", "node", got "cluster"']);
    expect(parseConfig('grouping = 1', 'f').problems.map(formatProblem)[0]).toMatch(/^f: grouping: expected one of .*, got /);
  });

  it('a valid file gives every runtime with its settings and defaults filled in', async () => {
    const config = loadConfig(await configFile('full.toml', FULL));
    expect(config.file).toBe(join(dir, 'full.toml'));
    expect(config.defaultRuntime).toBe('gvisor');
    expect(config.runtimes.get('runc')).toEqual({
      name: 'runc',
      binary: '/usr/sbin/runc',
      root: '/run/tsshim/runc',
      dialect: 'runc',
      flags: ['--debug'],
      systemdCgroup: true,
      env: { FOO: 'bar' },
      options: {},
    });
    expect(config.runtimes.get('gvisor')).toEqual({
      name: 'gvisor',
      binary: 'runsc',
      root: '/run/containerd/runsc',
      dialect: 'runsc',
      flags: [],
      systemdCgroup: false,
      env: {},
      options: { platform: 'ptrace', network: 'none', debug: true, overlay: false, 'num-network-channels': '2' },
    });
    // A table name that is a dialect needs nothing else: binary and dialect follow from it.
    expect(config.runtimes.get('crun')).toMatchObject({ binary: 'crun', dialect: 'crun', root: '/run/containerd/crun' });
  });

  it('the built-in runc stays available when the file only adds other runtimes', async () => {
    const config = loadConfig(await configFile('only-runsc.toml', '[runtimes.runsc]\n'));
    expect(config.defaultRuntime).toBe('runc');
    expect(config.runtimes.get('runc')).toMatchObject({ binary: 'runc', root: '/run/containerd/runc' });
  });

  it('an explicit dialect wins over the one guessed from the names', async () => {
    const config = loadConfig(
      await configFile('dialect.toml', '[runtimes.sandboxed]\nbinary = "/opt/bin/wrapper"\ndialect = "runsc"\n'),
    );
    expect(config.runtimes.get('sandboxed')?.dialect).toBe('runsc');
  });

  it('a syntax error is refused with file, line and column', async () => {
    const location = await configFile('syntax.toml', '[runtimes.runc]\nbinary = "runc\nroot = "/x"\n');
    const err = await loadError(location);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toMatch(new RegExp(`^${location.path}:2:\\d+: invalid TOML: `));
  });

  it('a wrong type names the file, the dotted key and what was expected', async () => {
    const location = await configFile('type.toml', '[runtimes.runc]\nflags = 5\n');
    const err = await loadError(location);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toBe(`${location.path}: runtimes.runc.flags: expected an array of strings, got integer`);
  });

  it('an option of an unsupported type names its full key', async () => {
    const location = await configFile('option.toml', '[runtimes.runsc.options]\nplatform = ["ptrace"]\n');
    const err = await loadError(location);
    expect(err.message).toBe(`${location.path}: runtimes.runsc.options.platform: expected a string, boolean or number, got array`);
  });

  it('an unknown key is refused with the keys that are allowed', async () => {
    const location = await configFile('unknown.toml', '[runtimes.runc]\nbinray = "runc"\n');
    const err = await loadError(location);
    expect(err.message).toBe(
      `${location.path}: runtimes.runc.binray: unknown key (expected one of: binary, root, dialect, flags, systemd_cgroup, env, options)`,
    );
  });

  it('an unknown default_runtime is refused with the runtimes that exist', async () => {
    const location = await configFile('default.toml', 'default_runtime = "kata"\n[runtimes.runsc]\n');
    const err = await loadError(location);
    expect(err.message).toBe(
      `${location.path}: default_runtime: expected the name of a [runtimes.X] table (one of: runc, runsc), got "kata"`,
    );
  });

  it('an empty binary, a relative root, an unknown dialect and a flag the shim owns are each refused', () => {
    const text = [
      '[runtimes.a]', 'binary = ""',
      '[runtimes.b]', 'root = "run/b"',
      '[runtimes.c]', 'dialect = "youki"',
      '[runtimes.d]', 'flags = ["--debug", "--root=/elsewhere"]',
    ].join('\n');
    const messages = parseConfig(text, '/etc/t.toml').problems.map(formatProblem);
    expect(messages).toEqual([
      '/etc/t.toml: runtimes.a.binary: expected a command name or an absolute path, got an empty string',
      '/etc/t.toml: runtimes.b.root: expected an absolute path, got "run/b"',
      '/etc/t.toml: runtimes.c.dialect: expected one of runc, crun, runsc, kata-runtime, runnc, got "youki"',
      "/etc/t.toml: runtimes.d.flags[1]: --root is set by tsshim itself (use the runtime's root/systemd_cgroup keys)",
    ]);
  });

  it('every problem of a file is reported, not just the first', async () => {
    const location = await configFile(
      'three.toml',
      'default_runtime = "nope"\n[runtimes.runc]\nsystemd_cgroup = "yes"\n[runtimes.runsc.env]\nPATH = 1\n',
    );
    const report = readConfig(location);
    expect(report.config).toBeUndefined();
    expect(report.problems.map(formatProblem)).toEqual([
      `${location.path}: runtimes.runc.systemd_cgroup: expected a boolean, got string`,
      `${location.path}: runtimes.runsc.env.PATH: expected a string, got integer`,
      // runsc's table is broken, yet it is a runtime name all the same.
      `${location.path}: default_runtime: expected the name of a [runtimes.X] table (one of: runc, runsc), got "nope"`,
    ]);
    const err = await loadError(location);
    expect(err.message.split('\n')).toHaveLength(3);
  });

  it('default_runtime naming a broken runtime table reports only the table', () => {
    const report = parseConfig('default_runtime = "gvisor"\n[runtimes.gvisor]\nroot = 1\n', '/t.toml');
    expect(report.problems.map(formatProblem)).toEqual(['/t.toml: runtimes.gvisor.root: expected a string, got integer']);
  });

  it('kata-runtime and runnc tables get their dialects from the table name or the binary', () => {
    const report = parseConfig('[runtimes.kata-runtime]\n[runtimes.nabla]\nbinary = "/usr/local/bin/runnc"\n', '/t.toml');
    expect(report.problems).toEqual([]);
    expect(report.config!.runtimes.get('kata-runtime')).toMatchObject({ dialect: 'kata-runtime', root: '/run/containerd/kata-runtime' });
    expect(report.config!.runtimes.get('nabla')).toMatchObject({ dialect: 'runnc', root: '/run/containerd/runnc' });
  });

  it('systemd_cgroup is refused for a dialect without --systemd-cgroup', () => {
    const report = parseConfig('[runtimes.runnc]\nsystemd_cgroup = true\n[runtimes.kata-runtime]\nsystemd_cgroup = true\n', '/t.toml');
    expect(report.problems.map(formatProblem)).toEqual(['/t.toml: runtimes.runnc.systemd_cgroup: the runnc dialect has no --systemd-cgroup flag']);
  });

  it('a config with problems still names every runtime, marking the broken tables', () => {
    const report = parseConfig('defualt_runtime = "x"\n[runtimes.good]\n[runtimes.bad]\nbinray = "x"\n', '/t.toml');
    expect(report.config).toBeUndefined();
    expect(report.problems).toHaveLength(2);
    expect([...report.runtimes!.entries()].map(([name, rt]) => [name, rt?.binary ?? null])).toEqual([
      ['runc', 'runc'],
      ['good', 'good'],
      ['bad', null],
    ]);
  });

  it('a missing file that was named explicitly is an error naming it and who named it', async () => {
    const path = join(dir, 'absent.toml');
    const err = await loadError({ path, explicit: true, source: '$TSSHIM_CONFIG' });
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toBe(`${path}: cannot read the config file named by $TSSHIM_CONFIG: no such file`);
  });

  it('a missing file at the default location means the built-in defaults', async () => {
    const config = loadConfig({ path: join(dir, 'absent.toml'), explicit: false, source: 'the default location' });
    expect(config).toBe(BUILTIN_CONFIG);
    expect([...config.runtimes.keys()]).toEqual(['runc']);
  });
});
