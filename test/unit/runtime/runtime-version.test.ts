import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import type { RuntimeConfig } from '../../../src/runtime/config.js';
import { DIALECTS } from '../../../src/runtime/dialects.js';
import { firstLine, probeRuntime, readVersion, releaseProblem } from '../../../src/runtime/runtime-version.js';

const FIXTURES = join(__dirname, '../../fixtures/runtimes');
const env = { PATH: process.env.PATH };

let dir: string;
// Copies of the kata stand-ins, which record each run next to themselves.
let KATA_1: string;
let KATA_2: string;
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-version-'));
  for (const name of ['kata-runtime-1.x', 'kata-runtime-2.x', 'record.sh']) {
    copyFileSync(join(FIXTURES, name), join(dir, name));
    chmodSync(join(dir, name), 0o755);
  }
  KATA_1 = join(dir, 'kata-runtime-1.x');
  KATA_2 = join(dir, 'kata-runtime-2.x');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runtime(binary: string, dialect: RuntimeConfig['dialect']): RuntimeConfig {
  return { name: 'rt', binary, root: '/run/rt', dialect, flags: [], systemdCgroup: false, env: {}, options: {} };
}

describe('readVersion', () => {
  it('gives the output of a successful --version', async () => {
    const bin = script('ok', 'echo "rt version 1.2.3"; echo "spec: 1.0.2"');
    expect(await readVersion(bin, env)).toEqual({ ok: true, output: 'rt version 1.2.3\nspec: 1.0.2\n' });
  });

  it('reports a failing --version as Unknown with its status and first line of stderr', async () => {
    const bin = script('fails', 'echo "" >&2; echo "  no such flag  " >&2; exit 2');
    expect(await readVersion(bin, env)).toEqual({ ok: false, code: Code.Unknown, message: `${bin} --version failed (exit status 2): no such flag` });
  });

  it('reports a --version that runs past the deadline as DeadlineExceeded', async () => {
    const bin = script('hangs', 'exec sleep 600');
    expect(await readVersion(bin, env, 200)).toEqual({
      ok: false, code: Code.DeadlineExceeded, message: `${bin} --version did not finish within 200 ms and was killed`,
    });
  });

  it('reports a binary that cannot run as FailedPrecondition', async () => {
    const result = await readVersion(join(dir, 'absent'), env);
    expect(result).toMatchObject({ ok: false, code: Code.FailedPrecondition });
    expect((result as { message: string }).message).toMatch(/^cannot run .*absent --version: .*ENOENT/);
  });
});

describe('firstLine', () => {
  it('gives the first non-blank line, trimmed', () => {
    expect(firstLine('\n  \n  runc version 1.1\nmore')).toBe('runc version 1.1');
    expect(firstLine(' \n')).toBeUndefined();
  });
});

describe('releaseProblem', () => {
  it('finds nothing to object to for a dialect without a release test, without running the binary', async () => {
    expect(await releaseProblem(DIALECTS.runc, join(dir, 'never-run'), env)).toBeUndefined();
  });

  it('refuses kata-runtime 2.x and accepts 1.x', async () => {
    expect(await releaseProblem(DIALECTS['kata-runtime'], KATA_2, env)).toMatch(/^kata-runtime 2\.5\.2 has no OCI command line/);
    expect(await releaseProblem(DIALECTS['kata-runtime'], KATA_1, env)).toBeUndefined();
  });
});

describe('probeRuntime', () => {
  it('reports the path and first version line of a usable runtime', async () => {
    const bin = script('probe-ok', 'echo "rt   version   9"');
    expect(await probeRuntime(runtime(bin, 'runc'))).toEqual({ name: 'rt', dialect: 'runc', binary: bin, path: bin, version: 'rt version 9' });
  });

  it('reports a binary that is not found', async () => {
    expect(await probeRuntime(runtime('tsshim-no-such-runtime', 'runc'))).toEqual({
      name: 'rt', dialect: 'runc', binary: 'tsshim-no-such-runtime', problem: 'runtime binary "tsshim-no-such-runtime" not found in PATH',
    });
  });

  it('reports a release the dialect cannot drive, with its version', async () => {
    const probe = await probeRuntime(runtime(KATA_2, 'kata-runtime'));
    expect(probe).toMatchObject({ path: KATA_2, version: 'kata-runtime : 2.5.2' });
    expect(probe.problem).toMatch(/Kata 2\.0 removed it/);
  });

  it('reports a failing --version as the problem', async () => {
    const bin = script('probe-fails', 'echo broken >&2; exit 1');
    expect(await probeRuntime(runtime(bin, 'crun'))).toMatchObject({ path: bin, problem: `${bin} --version failed (exit status 1): broken` });
  });
});
