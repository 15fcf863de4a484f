import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitRouter } from '../../../src/task/exit-router.js';
import { InitProcess } from '../../../src/task/init-process.js';
import { FakeRuntime } from './fake-runtime.js';
import { failure } from './task-fixture.js';

const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };
const finished = new Error('container not running');
const gone = new Error('container does not exist');

let bundle: string;
let runtime: FakeRuntime;
let init: InitProcess;
beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tss-init-'));
  runtime = new FakeRuntime();
  const logger = pino({ level: 'silent' });
  init = new InitProcess(stdio, {
    id: 'c1', bundle, namespace: 'ns', runtime, router: new ExitRouter(logger), logger,
    errors: { isProcessAlreadyFinished: (e) => e === finished, isNotExist: (e) => e === gone },
  });
});
afterEach(() => rmSync(bundle, { recursive: true, force: true }));

describe('InitProcess', () => {
  it('create writes init.pid through the runtime and takes the pid from it', async () => {
    await init.openIO();
    await init.create(() => undefined);
    expect(init.pid).toBe(runtime.pids.get('c1'));
    expect(existsSync(join(bundle, 'init.pid'))).toBe(true);
  });

  it('a failed create removes what the runtime made', async () => {
    await init.openIO();
    runtime.fail('create', new Error('bad spec'));
    await expect(init.create(() => undefined)).rejects.toThrow('bad spec');
    expect(runtime.calls).toEqual(['create', 'delete']);
  });

  it('a failed start or restore is Unknown with the reference prefix', async () => {
    runtime.fail('start', new Error('exec format error'));
    expect(await failure(init.run(undefined, () => undefined))).toBe('2: OCI runtime start failed: exec format error');
    await init.openIO();
    runtime.fail('restore', new Error('criu failed'));
    expect(await failure(init.run({ imagePath: join(bundle, 'img') }, () => undefined))).toBe('2: OCI runtime restore failed: criu failed');
  });

  it('kill errors are classified as the reference shim does', async () => {
    runtime.fail('kill', finished);
    expect(await failure(init.signal(9, false))).toBe('5: process already finished: not found');
    runtime.fail('kill', gone);
    expect(await failure(init.signal(9, false))).toBe('5: no such container: not found');
    runtime.fail('kill', new Error('permission denied'));
    expect(await failure(init.signal(9, false))).toBe('2: unknown error after kill: permission denied');
  });

  it('deleting a container the runtime no longer knows is success; another failure is not', async () => {
    runtime.fail('delete', gone);
    await init.deleteContainer(false);
    runtime.fail('delete', new Error('device or resource busy'));
    expect(await failure(init.deleteContainer(true))).toBe('2: failed to delete task: device or resource busy');
  });
});
