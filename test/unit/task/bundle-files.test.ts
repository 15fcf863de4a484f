import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  execPidPath, initPidPath, readAddressSync, readInitExitSync, readInitPidSync, readPidFile, readRuntimeFileSync,
  removeExecPidFile, removeRuntimeFile, writeAddressSync, writeInitExit, writeRuntimeFile,
} from '../../../src/task/bundle-files.js';
import type { ResolvedRuntime } from '../../../src/runtime/select.js';

let bundle: string;
beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tss-bundle-files-'));
});
afterEach(() => rmSync(bundle, { recursive: true, force: true }));

describe('bundle files', () => {
  it('pid files: the runtime writes them, a malformed one is an error naming the file', async () => {
    writeFileSync(initPidPath(bundle), '4242');
    expect(await readPidFile(initPidPath(bundle))).toBe(4242);
    expect(readInitPidSync(bundle)).toBe(4242);
    writeFileSync(execPidPath(bundle, 'e2'), '31337\n');
    expect(await readPidFile(execPidPath(bundle, 'e2'))).toBe(31337);
    await expect(readPidFile(execPidPath(bundle, 'none'))).rejects.toMatchObject({ code: 'ENOENT' });
    writeFileSync(execPidPath(bundle, 'e1'), 'garbage');
    await expect(readPidFile(execPidPath(bundle, 'e1'))).rejects.toThrow(`invalid pid "garbage" in ${execPidPath(bundle, 'e1')}`);
    await removeExecPidFile(bundle, 'e1');
    expect(existsSync(execPidPath(bundle, 'e1'))).toBe(false);
    await removeExecPidFile(bundle, 'e1');
  });

  it('a missing or zero init.pid reads as unknown', () => {
    expect(readInitPidSync(bundle)).toBeUndefined();
    writeFileSync(initPidPath(bundle), '0');
    expect(readInitPidSync(bundle)).toBeUndefined();
  });

  it('init.exit.json round-trips and leaves no temporary file', async () => {
    await writeInitExit(bundle, { pid: 7, status: 137, exitedAt: '2026-01-02T03:04:05.000Z' });
    expect(readInitExitSync(bundle)).toEqual({ pid: 7, status: 137, exitedAt: '2026-01-02T03:04:05.000Z' });
    expect(readdirSync(bundle)).toEqual(['init.exit.json']);
  });

  it('tsshim-runtime.json round-trips, is private to root, and is gone after removal', async () => {
    const runtime = { name: 'runc', binary: 'runc' } as unknown as ResolvedRuntime;
    await writeRuntimeFile(bundle, { namespace: 'ns', runtime });
    expect(readRuntimeFileSync(bundle)).toEqual({ namespace: 'ns', runtime });
    expect(statSync(join(bundle, 'tsshim-runtime.json')).mode & 0o777).toBe(0o600);
    await removeRuntimeFile(bundle);
    expect(readRuntimeFileSync(bundle)).toBeUndefined();
  });

  it('address holds exactly the address, replaced atomically', () => {
    writeAddressSync(bundle, 'unix:///run/tsshim/a');
    writeAddressSync(bundle, 'unix:///run/tsshim/b');
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe('unix:///run/tsshim/b');
    expect(readAddressSync(bundle)).toBe('unix:///run/tsshim/b');
    expect(readdirSync(bundle)).toEqual(['address']);
  });

  it('an unreadable record reads as absent, for the delete action after a crash', () => {
    writeFileSync(join(bundle, 'init.exit.json'), '{"pid": 1, ');
    expect(readInitExitSync(bundle)).toBeUndefined();
    expect(readAddressSync(bundle)).toBeUndefined();
  });
});
