import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecProcess } from '../../../src/task/exec-process.js';
import { ExitRouter } from '../../../src/task/exit-router.js';
import { FakeRuntime } from './fake-runtime.js';
import { failure } from './task-fixture.js';

const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };

let bundle: string;
let runtime: FakeRuntime;
let exec: ExecProcess;
beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tss-exec-'));
  runtime = new FakeRuntime();
  const logger = pino({ level: 'silent' });
  exec = new ExecProcess('e1', stdio, JSON.stringify({ id: 'e1', args: ['true'] }), {
    containerId: 'c1', bundle, namespace: 'ns', runtime, router: new ExitRouter(logger), logger,
  });
});
afterEach(() => rmSync(bundle, { recursive: true, force: true }));

describe('ExecProcess', () => {
  it('spawn runs runc exec with its own pid file and takes the pid from it', async () => {
    await exec.spawn(() => undefined);
    expect(exec.pid).toBe(runtime.pids.get('e1'));
    expect(existsSync(join(bundle, 'e1.pid'))).toBe(true);
  });

  it('a failed runc exec is Unknown "OCI runtime exec failed" and leaves no pid claimed', async () => {
    runtime.fail('exec', new Error('cannot exec in a stopped container'));
    expect(await failure(exec.spawn(() => undefined))).toBe('2: OCI runtime exec failed: cannot exec in a stopped container');
  });

  it('signalling an exec that is gone is NotFound "process already finished"', async () => {
    await exec.spawn(() => undefined);
    // The fake runtime's pids are above any kernel's pid range: no such process.
    expect(await failure((async () => exec.signal(0))())).toBe('5: process already finished: not found');
  });

  it('release removes its pid file', async () => {
    await exec.spawn(() => undefined);
    await exec.release();
    expect(existsSync(join(bundle, 'e1.pid'))).toBe(false);
  });
});
