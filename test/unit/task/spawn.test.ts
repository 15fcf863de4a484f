import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProcessIO } from '../../../src/io/process-io.js';
import { ExitRouter } from '../../../src/task/exit-router.js';
import { ProcessRecord, type ExitRecord } from '../../../src/task/process.js';
import { EXEC_TRANSITIONS } from '../../../src/task/process-state.js';
import { spawnProcess } from '../../../src/task/spawn.js';

const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };
const io = { runtimeStarted: async () => undefined } as unknown as ProcessIO;

let dir: string;
let router: ExitRouter;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tss-spawn-'));
  router = new ExitRouter(pino({ level: 'silent' }));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('spawnProcess', () => {
  it('an exit that beats the pid file reaches the process, with its pid already set', async () => {
    const p = new ProcessRecord('e1', stdio, EXEC_TRANSITIONS);
    const pidFile = join(dir, 'e1.pid');
    const seen: Array<[number, ExitRecord]> = [];
    await spawnProcess({
      router, process: p, io, pidFile,
      run: async () => {
        writeFileSync(pidFile, '3100001');
        router.dispatch({ pid: 3100001, status: 4, exitedAt: new Date(0) });
      },
      onExit: (exit) => seen.push([p.pid, exit]),
    });
    await Promise.resolve();
    expect(seen).toEqual([[3100001, { status: 4, at: new Date(0) }]]);
  });

  it('a later exit is routed to the claimed pid', async () => {
    const p = new ProcessRecord('e1', stdio, EXEC_TRANSITIONS);
    const pidFile = join(dir, 'e1.pid');
    const seen: number[] = [];
    await spawnProcess({ router, process: p, io, pidFile, run: async () => writeFileSync(pidFile, '3100002'), onExit: (e) => seen.push(e.status) });
    router.dispatch({ pid: 3100002, status: 9, exitedAt: new Date() });
    expect(seen).toEqual([9]);
  });

  it('a failed runtime call claims nothing and ends the spawn, so later orphans are not kept', async () => {
    const p = new ProcessRecord('e1', stdio, EXEC_TRANSITIONS);
    const seen: number[] = [];
    await expect(spawnProcess({
      router, process: p, io, pidFile: join(dir, 'none.pid'),
      run: async () => { throw new Error('runc exec failed'); },
      onExit: (e) => seen.push(e.status),
    })).rejects.toThrow('runc exec failed');
    router.dispatch({ pid: 3100003, status: 1, exitedAt: new Date() });
    router.claim(3100003, () => seen.push(-1));
    await Promise.resolve();
    expect(seen).toEqual([]);
    expect(p.pid).toBe(0);
  });

  it('a missing pid file fails the spawn', async () => {
    const p = new ProcessRecord('e1', stdio, EXEC_TRANSITIONS);
    await expect(spawnProcess({ router, process: p, io, pidFile: join(dir, 'missing.pid'), run: async () => undefined, onExit: () => undefined }))
      .rejects.toMatchObject({ code: 'ENOENT' });
  });
});
