import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import { checkpointContainer } from '../../../src/task/checkpoint.js';
import { FakeRuntime } from './fake-runtime.js';

let bundle: string;
let runtime: FakeRuntime;
const ctx = () => ({ id: 'c1', bundle, runtime, logger: pino({ level: 'silent' }) });
beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tss-cp-'));
  runtime = new FakeRuntime();
});
afterEach(() => rmSync(bundle, { recursive: true, force: true }));

describe('checkpointContainer', () => {
  it('uses scratch work space in the bundle and removes it afterwards', async () => {
    await checkpointContainer(ctx(), { imagePath: join(bundle, 'img'), exit: false });
    expect(runtime.calls).toEqual(['checkpoint']);
    expect(existsSync(join(bundle, 'work', 'criu-work'))).toBe(false);
  });

  it("a CRIU failure keeps dump.log in the bundle and names it in the error's first line", async () => {
    const workPath = join(bundle, 'mywork');
    mkdirSync(workPath);
    writeFileSync(join(workPath, 'dump.log'), 'Error (criu/cr-dump.c): dump failed');
    runtime.fail('checkpoint', new Error('criu failed: type NOTIFY errno 0\nlog file: dump.log'));
    const err = await checkpointContainer(ctx(), { imagePath: join(bundle, 'img'), workPath, exit: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(Code.Unknown);
    expect((err as StatusError).message).toBe(`criu failed: type NOTIFY errno 0 path= ${join(bundle, 'criu-dump.log')}`);
    expect(readFileSync(join(bundle, 'criu-dump.log'), 'utf8')).toContain('dump failed');
    expect(existsSync(workPath)).toBe(true);
  });

  it('an error with a precise code passes through unchanged', async () => {
    const precise = new StatusError(Code.NotFound, 'container not found: not found');
    runtime.fail('checkpoint', precise);
    await expect(checkpointContainer(ctx(), { imagePath: join(bundle, 'img'), exit: false })).rejects.toBe(precise);
  });
});
