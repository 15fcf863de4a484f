import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  execPidPath, initPidPath, readAddressSync, readInitExitSync, readInitPidSync, readPidFileSync, readRuntimeFileSync,
  removeExecPidFileSync, removeRuntimeFileSync, writeAddressSync, writeInitExitSync, writeOciSpecSync, writeRuntimeFileSync,
} from '../../../src/task/bundle-files.js';
import type { ResolvedRuntime } from '../../../src/runtime/select.js';

let bundle: string;
beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tss-bundle-files-'));
});
afterEach(() => rmSync(bundle, { recursive: true, force: true }));

describe('bundle files', () => {
  it('pid files: the runtime writes them, a malformed one is an error naming the file', () => {
    writeFileSync(initPidPath(bundle), '4242');
    expect(readPidFileSync(initPidPath(bundle))).toBe(4242);
    expect(readInitPidSync(bundle)).toBe(4242);
    writeFileSync(execPidPath(bundle, 'e2'), '31337\n');
    expect(readPidFileSync(execPidPath(bundle, 'e2'))).toBe(31337);
    expect(() => readPidFileSync(execPidPath(bundle, 'none'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    writeFileSync(execPidPath(bundle, 'e1'), 'garbage');
    expect(() => readPidFileSync(execPidPath(bundle, 'e1'))).toThrow(`invalid pid "garbage" in ${execPidPath(bundle, 'e1')}`);
    removeExecPidFileSync(bundle, 'e1');
    expect(existsSync(execPidPath(bundle, 'e1'))).toBe(false);
    expect(() => removeExecPidFileSync(bundle, 'e1')).not.toThrow();
  });

  it('a missing or zero init.pid reads as unknown', () => {
    expect(readInitPidSync(bundle)).toBeUndefined();
    writeFileSync(initPidPath(bundle), '0');
    expect(readInitPidSync(bundle)).toBeUndefined();
  });

  it('init.exit.json round-trips and leaves no temporary file', () => {
    writeInitExitSync(bundle, { pid: 7, status: 137, exitedAt: '2026-01-02T03:04:05.000Z' });
    expect(readInitExitSync(bundle)).toEqual({ pid: 7, status: 137, exitedAt: '2026-01-02T03:04:05.000Z' });
    expect(readdirSync(bundle)).toEqual(['init.exit.json']);
  });

  it('tsshim-runtime.json round-trips, is private to root, and is gone after removal', () => {
    const runtime = { name: 'runc', binary: 'runc' } as unknown as ResolvedRuntime;
    writeRuntimeFileSync(bundle, { namespace: 'ns', runtime });
    expect(readRuntimeFileSync(bundle)).toEqual({ namespace: 'ns', runtime });
    expect(statSync(join(bundle, 'tsshim-runtime.json')).mode & 0o777).toBe(0o600);
    removeRuntimeFileSync(bundle);
    expect(readRuntimeFileSync(bundle)).toBeUndefined();
    expect(() => removeRuntimeFileSync(bundle)).not.toThrow();
  });

  it('address holds exactly the address, replaced atomically', () => {
    writeAddressSync(bundle, 'unix:///run/tsshim/a');
    writeAddressSync(bundle, 'unix:///run/tsshim/b');
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe('unix:///run/tsshim/b');
    expect(readAddressSync(bundle)).toBe('unix:///run/tsshim/b');
    expect(readdirSync(bundle)).toEqual(['address']);
  });

  it('a changed OCI spec replaces config.json whole, readable by the runtime', () => {
    writeFileSync(join(bundle, 'config.json'), '{"ociVersion":"1.0.2"}');
    writeOciSpecSync(bundle, { ociVersion: '1.0.2', annotations: { a: 'b' } });
    expect(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))).toEqual({ ociVersion: '1.0.2', annotations: { a: 'b' } });
    expect(statSync(join(bundle, 'config.json')).mode & 0o777).toBe(0o644);
    expect(readdirSync(bundle)).toEqual(['config.json']);
  });

  it('an unreadable record reads as absent, for the delete action after a crash', () => {
    writeFileSync(join(bundle, 'init.exit.json'), '{"pid": 1, ');
    expect(readInitExitSync(bundle)).toBeUndefined();
    expect(readAddressSync(bundle)).toBeUndefined();
  });
});
