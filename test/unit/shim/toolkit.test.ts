import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import { Code, StatusError } from '../../../src/errors/index.js';
import type { FaultRule, ShimConfig } from '../../../src/runtime/config.js';
import { RuntimeCommandError } from '../../../src/runtime/runtime-errors.js';
import { Toolkit, TRACE_ENV } from '../../../src/shim/toolkit.js';
import type { TaskRuntime } from '../../../src/task/task-runtime.js';
import type { CallContext, MethodDef, ServiceDef } from '../../../src/ttrpc/index.js';

const logger = pino({ level: 'silent' });
const ids = { namespace: 'ns1', id: 'c1' };

function ctx(method: string, signal = new AbortController().signal): CallContext {
  return { service: 'containerd.task.v2.Task', method, metadata: new Map(), signal };
}

function config(faults: FaultRule[], trace?: string): ShimConfig {
  return { file: '/etc/tsshim/config.toml', defaultRuntime: 'runc', grouping: 'pod', startupSnapshot: false, runtimes: new Map(), faults, ...(trace ? { trace: { dir: trace } } : {}) };
}

const method = (handler: MethodDef['handler']): MethodDef => ({ decode: (b) => b, encode: (r) => r, handler });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-toolkit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const traceLines = () => readFileSync(join(dir, `ns1-c1-${process.pid}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('Toolkit', () => {
  it('with nothing configured passes calls and events straight through', async () => {
    const tk = new Toolkit(ids, logger, {});
    const wrapped = tk.wrapMethods({ State: method((req: { id: string }) => ({ id: req.id, pid: 1 })) }, async () => undefined);
    expect(await wrapped.State!.handler({ id: 'c1' }, ctx('State'))).toEqual({ id: 'c1', pid: 1 });
    const published: string[] = [];
    tk.wrapEvents({ publish: (topic) => published.push(topic) }).publish('/tasks/start', 'containerd.events.TaskStart', new Uint8Array());
    expect(published).toEqual(['/tasks/start']);
    await tk.close();
  });

  it('traces to $TSSHIM_TRACE: the start, each call with its status, each event and each runtime run', async () => {
    const tk = new Toolkit(ids, logger, { [TRACE_ENV]: dir });
    const def: ServiceDef = {
      State: method(() => ({ pid: 7 })),
      Kill: method(() => {
        throw new StatusError(Code.NotFound, 'process e1: not found');
      }),
    };
    const wrapped = tk.wrapMethods(def, async () => undefined);
    await wrapped.State!.handler({ id: 'c1' }, ctx('State'));
    await expect(wrapped.Kill!.handler({ id: 'c1', execId: 'e1' }, ctx('Kill'))).rejects.toThrow('process e1: not found');
    const value = containerd.events.TaskStart.encode({ containerId: 'c1', pid: 7 }).finish();
    tk.wrapEvents({ publish: () => {} }).publish('/tasks/start', 'containerd.events.TaskStart', value);
    tk.invocationObserver('c1')({ command: 'start', argv: ['runc', 'start', 'c1'], cwd: '/b', env: {}, ms: 3, exitCode: 0, signal: null, stderr: '' } as never);
    await tk.close();
    const lines = traceLines();
    expect(lines.map((l) => l.kind)).toEqual(['start', 'rpc', 'rpc', 'event', 'runtime']);
    expect(lines[0]).toMatchObject({ pid: process.pid, namespace: 'ns1', id: 'c1' });
    expect(lines[1]).toMatchObject({ method: 'State', id: 'c1', code: 0, response: { pid: 7 } });
    expect(lines[2]).toMatchObject({ method: 'Kill', id: 'c1', execId: 'e1', code: Code.NotFound, message: 'process e1: not found' });
    expect(lines[3]).toMatchObject({ topic: '/tasks/start', id: 'c1', event: { containerId: 'c1', pid: 7 } });
    expect(lines[4]).toMatchObject({ command: 'start', argv: ['runc', 'start', 'c1'], exitCode: 0 });
  });

  it('applies a Create fault from the config Create names, and hands that config out once', async () => {
    const tk = new Toolkit(ids, logger, {});
    const cfg = config([{ index: 0, target: { method: 'Create' }, action: { kind: 'error', code: Code.Unavailable, message: 'injected' }, count: 1 }]);
    const taken: (ShimConfig | undefined)[] = [];
    const wrapped = tk.wrapMethods({ Create: method((req: { id: string }) => { taken.push(tk.takePreparedConfig(req.id), tk.takePreparedConfig(req.id)); return {}; }) }, async () => cfg);
    await expect(wrapped.Create!.handler({ id: 'c1' }, ctx('Create'))).rejects.toMatchObject({ code: Code.Unavailable, message: 'injected' });
    expect(taken).toEqual([]);
    await wrapped.Create!.handler({ id: 'c1' }, ctx('Create'));
    expect(taken).toEqual([cfg, undefined]);
    expect(tk.takePreparedConfig('c1')).toBeUndefined();
  });

  it('a hang fault answers DeadlineExceeded once the call is aborted', async () => {
    const tk = new Toolkit(ids, logger, {});
    tk.configure(config([{ index: 0, target: { method: 'Kill' }, action: { kind: 'hang' } }]));
    const wrapped = tk.wrapMethods({ Kill: method(() => ({})) }, async () => undefined);
    const abort = new AbortController();
    const call = wrapped.Kill!.handler({ id: 'c1' }, ctx('Kill', abort.signal));
    abort.abort();
    await expect(call).rejects.toMatchObject({ code: Code.DeadlineExceeded, message: 'Kill: context deadline exceeded (injected hang)' });
  });

  it('fails a runtime command as a failed run would, and leaves other commands and properties alone', async () => {
    const tk = new Toolkit(ids, logger, { [TRACE_ENV]: dir });
    tk.configure(config([{ index: 2, target: { runtime: 'start' }, id: 'c?', action: { kind: 'runtime-fail', stderr: 'cannot start\nmore' } }]));
    const calls: string[] = [];
    const runtime = {
      name: 'runc',
      start: async (id: string) => void calls.push(`start ${id}`),
      kill: async (id: string) => void calls.push(`kill ${id}`),
    } as unknown as TaskRuntime;
    const wrapped = tk.wrapRuntime(runtime, '/usr/bin/runc') as unknown as { name: string; start(id: string): Promise<void>; kill(id: string): Promise<void> };
    expect(wrapped.name).toBe('runc');
    const err = await wrapped.start('c1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeCommandError);
    expect(err).toMatchObject({ code: Code.Unknown, message: 'cannot start' });
    await wrapped.start('other');
    await wrapped.kill('c1');
    expect(calls).toEqual(['start other', 'kill c1']);
    await tk.close();
    expect(traceLines().filter((l) => l.kind !== 'start').map((l) => [l.kind, l.target ?? l.command, l.injected ?? false])).toEqual([
      ['fault', 'runtime start', false],
      ['runtime', 'start', true],
    ]);
  });
});
