// The developer toolkit through real containerd and ctr: [[faults]], [hooks] and [trace] in the
// tsshim config that containerd's environment names (TSSHIM_CONFIG).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagedShimDir, skipUnlessRoot, uniqueId } from './harness/index.js';
import { run } from './harness/run.js';
import { bundleDir, DEFAULT_CONFIG, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';
import { eventually, runDetached, taskStatus } from './task-helpers.js';

const CTL = join(packagedShimDir(), 'tsshimctl');

describe.skipIf(skipUnlessRoot())('tsshim toolkit through containerd and ctr', () => {
  let env: TsshimEnv;
  let work: string;
  let traceDir: string;
  let hooksPath: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tss-toolkit-'));
    traceDir = join(work, 'trace');
    hooksPath = join(work, 'hooks.mjs');
    // From the start-up snapshot: hooks modules, traces and faults work there as from the bundle.
    env = await startTsshimEnv({
      config: `startup_snapshot = true
${DEFAULT_CONFIG}
[trace]
dir = "${traceDir}"

[hooks]
module = "${hooksPath}"
timeout_ms = 5000

[[faults]]
method = "Start"
id = "unavail-*"
action = "error"
code = "Unavailable"
message = "injected: start refused for the test"

[[faults]]
method = "Create"
id = "slowcreate-*"
action = "delay"
delay_ms = 1500

[[faults]]
method = "Start"
id = "crashstart-*"
action = "crash"

[[faults]]
runtime = "exec"
id = "failexec-*"
action = "runtime-fail"
stderr = "exec failed: injected: no more pids"
count = 1
`,
    });
    // The example of docs/toolkit.md: one variable in every container of one namespace.
    writeFileSync(hooksPath, `
import { appendFileSync } from 'node:fs';
const record = (r) => appendFileSync(${JSON.stringify(join(work, 'hooks.log'))}, JSON.stringify(r) + '\\n');
export function afterStart({ id, pid }) { record({ hook: 'afterStart', id, pid }); }
export function onExit({ id, execId, status }) { record({ hook: 'onExit', id, execId, status }); }
export function beforeCreate({ namespace, spec }) {
  if (namespace === ${JSON.stringify(env.c.namespace)}) spec.process.env.push(\`INJECTED_BY_HOOK=\${namespace}\`);
  return spec;
}
export function beforeExec({ execId, process }) {
  if (execId === 'hook-throws') throw new Error('exec refused by policy');
  process.env = [...(process.env ?? []), 'INJECTED_BY_HOOK=exec'];
}
`);
  }, 300_000);

  afterAll(async () => {
    await env?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const traceOf = (id: string) => {
    const file = readdirSync(traceDir).find((f) => f.startsWith(`${env.c.namespace}-${id}-`));
    return file ? join(traceDir, file) : undefined;
  };
  const records = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

  it('a beforeCreate hook puts a variable into the container of its namespace; afterStart and onExit see it start and exit', async () => {
    const id = uniqueId('hooked');
    const r = await env.run(id, ['sh', '-c', 'echo "value=$INJECTED_BY_HOOK"; exit 6']);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stdout.toString()).toBe(`value=${env.c.namespace}\n`);
    // afterStart and onExit saw the same task, its pid and its exit status.
    const seen = () => readFileSync(join(work, 'hooks.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((x) => x.id === id);
    await eventually(() => existsSync(join(work, 'hooks.log')) && seen().length === 2);
    const [started, exited] = seen();
    expect(started).toMatchObject({ hook: 'afterStart', id });
    expect(started!.pid).toBeGreaterThan(0);
    expect(exited).toEqual({ hook: 'onExit', id, execId: '', status: 6 });
  });

  it('traces a ctr run: calls, runtime runs and events, rendered by tsshimctl trace', async () => {
    const id = uniqueId('traced');
    const r = await env.run(id, ['sh', '-c', 'echo traced; exit 4']);
    expect(r.code, r.stderr).toBe(4);
    const path = traceOf(id);
    expect(path, `a trace file for ${id} in ${traceDir}`).toBeDefined();
    await eventually(() => records(path!).some((x) => x.kind === 'rpc' && x.method === 'Shutdown'));
    const all = records(path!);
    expect(all.filter((x) => x.kind === 'event').map((x) => x.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    expect(all.filter((x) => x.kind === 'runtime').map((x) => x.command)).toEqual(['create', 'start', 'delete']);
    expect(all.find((x) => x.kind === 'hook')).toMatchObject({ hook: 'beforeCreate', id });
    const timeline = await run(CTL, ['trace', '--id', id, path!]);
    expect(timeline.code, timeline.stderr).toBe(0);
    const text = timeline.stdout.toString();
    for (const want of ['rpc   Create', 'exec  create', 'event /tasks/create', 'rpc   Start', 'event /tasks/exit', 'rpc   Delete', 'rpc   Shutdown']) {
      expect(text).toContain(want);
    }
    console.log(`tsshimctl trace of a ctr run on containerd ${env.c.version}:\n${text}`);
  });

  it('an injected Unavailable on Start makes ctr run fail with that message, leaving nothing', async () => {
    const id = uniqueId('unavail');
    const r = await env.run(id, ['true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('injected: start refused for the test');
    // ctr 1.6 and 1.7 leave a task whose Start failed in CREATED (as they do with the Go runc
    // shim), 2.x deletes it; what is left is removed the ordinary way.
    if ((await taskStatus(env, id)) !== undefined) {
      const deleted = await env.c.ctr(['task', 'delete', '-f', id]);
      expect(deleted.code, deleted.stderr).toBe(0);
    }
    if ((await env.c.ctr(['container', 'ls', '-q'])).stdout.toString().split('\n').includes(id)) {
      const removed = await env.c.ctr(['container', 'delete', id]);
      expect(removed.code, removed.stderr).toBe(0);
    }
    await eventually(() => !existsSync(bundleDir(env.c, id)) && env.shimProcesses().length === 0);
    expect(traceOf(id) && records(traceOf(id)!).find((x) => x.kind === 'fault')).toMatchObject({ target: 'Start', id, action: 'error' });
  });

  it('a delayed Create shows in the time ctr run takes and in the trace', async () => {
    const timed = async (prefix: string) => {
      const id = uniqueId(prefix);
      const started = performance.now();
      const r = await env.run(id, ['true']);
      expect(r.code, r.stderr).toBe(0);
      return { id, ms: performance.now() - started };
    };
    const plain = await timed('plaincreate');
    const slow = await timed('slowcreate');
    const create = records(traceOf(slow.id)!).find((x) => x.kind === 'rpc' && x.method === 'Create');
    expect(records(traceOf(slow.id)!).find((x) => x.kind === 'fault')).toMatchObject({ target: 'Create', detail: 'delay 1500 ms' });
    console.log(`ctr run without a fault: ${plain.ms.toFixed(0)} ms; with Create delayed 1500 ms: ${slow.ms.toFixed(0)} ms (Create RPC ${create?.ms.toFixed(0)} ms)`);
  });

  it('a shim crash on Start is cleaned up by containerd\'s delete path with nothing left', async () => {
    const id = uniqueId('crashstart');
    try {
      const r = await env.run(id, ['sleep', '1000']);
      expect(r.code).not.toBe(0);
      // No ctr task delete: containerd runs the shim's delete action when the connection drops.
      await eventually(() => !existsSync(bundleDir(env.c, id)), 30_000);
      expect(env.shimProcesses()).toEqual([]);
      expect(existsSync(join('/run/containerd/runc', env.c.namespace, id)), 'runc state of the crashed task').toBe(false);
      expect((await env.c.ctr(['task', 'ls'])).stdout.toString()).not.toContain(id);
      expect(env.c.logs()).toMatch(new RegExp(`injected crash \\(faults\\[2\\], Start\\)`));
    } finally {
      await env.c.ctr(['task', 'delete', '-f', id]);
      await env.c.ctr(['container', 'delete', id]);
    }
  });

  it('a failing runtime exec gives ctr task exec a clear error while the task keeps running', async () => {
    const task = await runDetached(env, ['sleep', '100000'], { prefix: 'failexec' });
    try {
      const failed = await env.c.ctr(['task', 'exec', '--exec-id', 'e1', task.id, 'true']);
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toContain('exec failed: injected: no more pids');
      expect(await taskStatus(env, task.id)).toBe('RUNNING');
      // count = 1: the next exec runs, and the beforeExec hook's variable reaches it.
      const ok = await env.c.ctr(['task', 'exec', '--exec-id', 'e2', task.id, 'sh', '-c', 'echo "exec=$INJECTED_BY_HOOK"']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout.toString()).toBe('exec=exec\n');
      const refused = await env.c.ctr(['task', 'exec', '--exec-id', 'hook-throws', task.id, 'true']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`hook beforeExec (${hooksPath}) failed: exec refused by policy`);
      expect(await taskStatus(env, task.id)).toBe('RUNNING');
    } finally {
      await task.remove();
    }
  });
});
