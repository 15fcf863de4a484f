import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { RuntimeDriver } from '../../../src/runtime/runtime-driver.js';
import { RuntimeCommandError, isNotExist, isProcessAlreadyFinished } from '../../../src/runtime/runtime-errors.js';
import type { DialectName } from '../../../src/runtime/dialects.js';

// Cheap calls only: a private --root where no container exists, nothing is ever created.
let root: string;
let bundle: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tsshim-root-'));
  bundle = await mkdtemp(join(tmpdir(), 'tsshim-bundle-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(bundle, { recursive: true, force: true });
});

function driver(dialect: DialectName, options: Record<string, string | boolean> = {}, flags: string[] = []): RuntimeDriver {
  return new RuntimeDriver(
    {
      name: dialect,
      binary: dialect,
      binarySource: `runtimes.${dialect}.binary in the test`,
      root: join(root, dialect),
      dialect,
      flags,
      systemdCgroup: false,
      env: {},
      options,
    },
    { namespace: 'default', bundle },
  );
}

async function failure(p: Promise<unknown>): Promise<RuntimeCommandError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RuntimeCommandError);
  return err as RuntimeCommandError;
}

describe('against the installed runc', () => {
  it('version() is the first line of runc --version', async () => {
    const expected = execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    const d = driver('runc');
    expect(d.binary).toMatch(/^\/.*\/runc$/);
    expect(await d.version()).toBe(expected);
    expect(expected).toMatch(/^runc version \d+\.\d+\.\d+/);
  });

  it('ps of an unknown container reports runc\'s "does not exist" and isNotExist() agrees', async () => {
    const err = await failure(driver('runc').ps('no-such-container'));
    expect(err.code).toBe(Code.Unknown);
    expect(err.message).toBe('container does not exist');
    expect(err.exitCode).toBe(1);
    expect(isNotExist(err)).toBe(true);
    expect(isProcessAlreadyFinished(err)).toBe(false);
  });

  it('delete of an unknown container reports runc\'s "does not exist" and isNotExist() agrees', async () => {
    const err = await failure(driver('runc').delete('no-such-container'));
    expect(err.message).toContain('does not exist');
    expect(isNotExist(err)).toBe(true);
  });
});

describe('against the other installed runtimes', () => {
  for (const dialect of ['crun', 'runsc'] as const) {
    it(`${dialect}: delete and kill of an unknown container are recognised by isNotExist()`, async () => {
      const d = driver(dialect);
      for (const attempt of [() => d.delete('no-such-container'), () => d.kill('no-such-container', 15)]) {
        const err = await failure(attempt());
        expect(isNotExist(err), err.message).toBe(true);
      }
    });

    it(`${dialect}: delete --force of an unknown container succeeds (runc's fails with "does not exist")`, async () => {
      await expect(driver(dialect).delete('no-such-container', { force: true })).resolves.toBeUndefined();
    });

    it(`${dialect}: ps of an unknown container is recognised by isNotExist()`, async () => {
      const err = await failure(driver(dialect).ps('no-such-container'));
      expect(isNotExist(err), err.message).toBe(true);
    });
  }
});

describe('against the installed runsc', () => {
  it('accepts options rendered as global flags before the command', async () => {
    // An unknown or misplaced flag would fail with "flag provided but not defined" instead.
    const err = await failure(driver('runsc', { platform: 'ptrace', network: 'none', 'file-access': 'exclusive' }).ps('no-such-container'));
    expect(err.argv).toContain('--platform=ptrace');
    expect(isNotExist(err), err.message).toBe(true);
  });

  it('a flag it does not know is reported in its own words, not as its usage text', async () => {
    const err = await failure(driver('runsc', {}, ['--no-such-flag']).ps('c1'));
    expect(err.message).toBe('flag provided but not defined: -no-such-flag');
  });
});
