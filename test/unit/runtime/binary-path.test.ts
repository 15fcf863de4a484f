import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookPath, missingBinaryText, runtimeEnv } from '../../../src/runtime/binary-path.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-lookpath-'));
  for (const sub of ['a', 'b']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'a', 'plain'), 'not executable');
  writeFileSync(join(dir, 'b', 'plain'), '#!/bin/sh\n');
  chmodSync(join(dir, 'b', 'plain'), 0o755);
  mkdirSync(join(dir, 'a', 'adir'));
  chmodSync(join(dir, 'a', 'adir'), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lookPath', () => {
  it('takes the first executable file along PATH, skipping non-executables', () => {
    expect(lookPath('plain', `${join(dir, 'a')}:${join(dir, 'b')}`)).toBe(join(dir, 'b', 'plain'));
  });

  it('never looks in the working directory through an empty or relative PATH entry', () => {
    expect(lookPath('plain', `:.:b`)).toBeUndefined();
  });

  it('accepts an absolute path only when it is an executable file', () => {
    expect(lookPath(join(dir, 'b', 'plain'), undefined)).toBe(join(dir, 'b', 'plain'));
    expect(lookPath(join(dir, 'a', 'plain'), undefined)).toBeUndefined();
    expect(lookPath(join(dir, 'a', 'adir'), undefined)).toBeUndefined();
  });

  it('finds nothing without a PATH', () => {
    expect(lookPath('plain', undefined)).toBeUndefined();
  });
});

describe('missingBinaryText', () => {
  it('says "not found in PATH" for a name and "missing or not executable" for a path', () => {
    expect(missingBinaryText('runc')).toBe('runtime binary "runc" not found in PATH');
    expect(missingBinaryText('/opt/runc')).toBe('runtime binary "/opt/runc" is missing or not executable');
  });
});

describe('runtimeEnv', () => {
  it('drops NOTIFY_SOCKET, keeps the rest of the environment and adds the configured env over it', () => {
    const saved = { NOTIFY_SOCKET: process.env.NOTIFY_SOCKET, TSSHIM_TEST_VAR: process.env.TSSHIM_TEST_VAR };
    process.env.NOTIFY_SOCKET = '/run/systemd/notify';
    process.env.TSSHIM_TEST_VAR = 'inherited';
    try {
      const env = runtimeEnv({ TSSHIM_TEST_VAR: 'configured', EXTRA: '1' });
      expect(env.NOTIFY_SOCKET).toBeUndefined();
      expect(env.TSSHIM_TEST_VAR).toBe('configured');
      expect(env.EXTRA).toBe('1');
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
