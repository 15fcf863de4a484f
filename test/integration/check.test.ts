import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagedShimDir } from './harness/index.js';

const SHIM = join(packagedShimDir(), 'containerd-shim-tsshim-v2');
const FIXTURES = fileURLToPath(new URL('../fixtures/runtimes/', import.meta.url));

function runCheck(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { TSSHIM_CONFIG: _, ...inherited } = process.env;
    execFile(SHIM, args, { env: { ...inherited, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The table row of one runtime, split into its columns. */
function row(stdout: string, runtime: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${runtime} `));
  expect(line, `a row for ${runtime} in:\n${stdout}`).toBeDefined();
  return line!.split(/ {2,}/);
}

describe('the check action', () => {
  let dir: string;
  let runcPath: string;
  let runcVersion: string;

  beforeAll(() => {
    // Copies, so the stand-ins' records land in a scratch directory, not in the repository.
    dir = mkdtempSync(join(tmpdir(), 'tsshim-check-'));
    for (const name of readdirSync(FIXTURES)) {
      copyFileSync(join(FIXTURES, name), join(dir, name));
      chmodSync(join(dir, name), 0o755);
    }
    runcPath = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
    runcVersion = execFileSync(runcPath, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function config(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  it('reports a missing binary, a bad key and a good runtime together, and exits non-zero', async () => {
    const path = config(
      'mixed.toml',
      [
        'default_runtime = "kata"',
        '[runtimes.kata]',
        `binary = "${dir}/kata-runtime-1.x"`,
        'dialect = "kata-runtime"',
        '[runtimes.gone]',
        'binary = "/nonexistent/tsshim-runtime"',
        '[runtimes.typo]',
        'binray = "runc"',
      ].join('\n'),
    );
    const r = await runCheck(['check', '-config', path]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`config: ${path} (from -config)`);
    expect(r.stdout).toContain(
      `  ${path}: runtimes.typo.binray: unknown key (expected one of: binary, root, dialect, flags, systemd_cgroup, env, options)`,
    );
    expect(row(r.stdout, 'gone')).toEqual(['gone', 'runc', '/nonexistent/tsshim-runtime', '-', 'runtime binary "/nonexistent/tsshim-runtime" is missing or not executable']);
    expect(row(r.stdout, 'kata')).toEqual(['kata', 'kata-runtime', `${dir}/kata-runtime-1.x`, 'kata-runtime : 1.12.1', 'ok']);
    expect(row(r.stdout, 'typo')).toEqual(['typo', '-', '-', '-', 'not usable: its table has config problems']);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('2 problems found');
  });

  it('a good config lists every runtime with its path and version, and exits 0', async () => {
    const path = config(
      'good.toml',
      [
        'default_runtime = "nabla"',
        '[runtimes.kata-runtime]',
        `binary = "${dir}/kata-runtime-1.x"`,
        '[runtimes.nabla]',
        `binary = "${dir}/runnc"`,
        'dialect = "runnc"',
      ].join('\n'),
    );
    const r = await runCheck([`check`, `-config=${path}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').find((l) => l.startsWith('RUNTIME'))?.split(/ +/)).toEqual(['RUNTIME', 'DIALECT', 'BINARY', 'VERSION', 'STATUS']);
    expect(row(r.stdout, 'runc')).toEqual(['runc', 'runc', runcPath, runcVersion, 'ok']);
    expect(row(r.stdout, 'kata-runtime')).toEqual(['kata-runtime', 'kata-runtime', `${dir}/kata-runtime-1.x`, 'kata-runtime : 1.12.1', 'ok']);
    expect(row(r.stdout, 'nabla')).toEqual(['nabla', 'runnc', `${dir}/runnc`, 'runnc version 0.1', 'ok']);
    expect(r.stdout).toContain('default runtime: nabla');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('no problems found');
  });

  it('kata-runtime 2.x is reported as unusable, read from $TSSHIM_CONFIG like a task would', async () => {
    const path = config('kata2.toml', `[runtimes.kata-runtime]\nbinary = "${dir}/kata-runtime-2.x"\n`);
    const r = await runCheck(['check'], { TSSHIM_CONFIG: path });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`config: ${path} (from $TSSHIM_CONFIG)`);
    expect(row(r.stdout, 'kata-runtime')).toEqual([
      'kata-runtime', 'kata-runtime', `${dir}/kata-runtime-2.x`, 'kata-runtime : 2.5.2',
      'kata-runtime 2.5.2 has no OCI command line (Kata 2.0 removed it); run Kata through its own shim, runtime io.containerd.kata.v2',
    ]);
  });

  it('a config that is not TOML is one problem with its line and column', async () => {
    const path = config('broken.toml', 'default_runtime = \n');
    const r = await runCheck(['check', '-config', path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^  ${path}:1:\\d+: invalid TOML: `, 'm'));
    expect(r.stdout).not.toContain('RUNTIME');
  });

  it('a named config file that does not exist is a problem, not the built-in defaults', async () => {
    const r = await runCheck(['check', '-config', join(dir, 'absent.toml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${join(dir, 'absent.toml')}: cannot read the config file named by -config: no such file`);
  });

  it('an unknown argument is a usage error (exit 2) on stderr', async () => {
    const r = await runCheck(['check', '-namespace', 'x']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('containerd-shim-tsshim-v2: check: unexpected argument "-namespace" (usage: check [-config <path>])\n');
  });
});
