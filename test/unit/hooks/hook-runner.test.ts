import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import { loadHooks, taskHooks, type HookReport } from '../../../src/hooks/hook-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'hooks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function module(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('hooks', () => {
  it('passes the namespace, and a returned spec replaces the original', async () => {
    const path = module('ok.mjs', 'export const beforeCreate = ({ spec, namespace }) => ({ ...spec, ns: namespace });');
    const cfg = { module: path, timeoutMs: 1000 };
    const reports: HookReport[] = [];
    const hooks = taskHooks(await loadHooks(cfg), cfg, 'k8s.io', (r) => reports.push(r));
    expect(await hooks.beforeCreate({ id: 'c', bundle: '/b', spec: { a: 1 }, annotations: {} })).toEqual({ a: 1, ns: 'k8s.io' });
    expect(await hooks.beforeExec({ id: 'c', execId: 'e', process: {} })).toBeUndefined();
    expect(reports.map((r) => r.hook)).toEqual(['beforeCreate']);
  });

  it('a throwing hook fails with an error naming the hook and the module', async () => {
    const path = module('throws.mjs', 'export function afterStart() { throw new Error("nope"); }');
    const cfg = { module: path, timeoutMs: 1000 };
    const hooks = taskHooks(await loadHooks(cfg), cfg, 'ns', () => {});
    await expect(hooks.afterStart({ id: 'c', pid: 1 })).rejects.toThrow(`hook afterStart (${path}) failed: nope`);
  });

  it('a hook past its deadline fails with DeadlineExceeded', async () => {
    const path = module('slow.mjs', 'export const onExit = () => new Promise(() => {});');
    const cfg = { module: path, timeoutMs: 50 };
    const hooks = taskHooks(await loadHooks(cfg), cfg, 'ns', () => {});
    const err = await hooks.onExit({ id: 'c', execId: '', status: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(Code.DeadlineExceeded);
    expect((err as StatusError).message).toBe(`hook onExit (${path}) did not finish within 50 ms`);
  });

  it('a module that cannot be imported is a FailedPrecondition naming it', async () => {
    const path = join(dir, 'missing.mjs');
    const err = await loadHooks({ module: path, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect((err as StatusError).code).toBe(Code.FailedPrecondition);
    expect((err as StatusError).message).toContain(`hooks module ${path} cannot be loaded`);
  });
});
