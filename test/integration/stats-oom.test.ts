import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventContainerId, skipUnlessRoot, uniqueId } from './harness/index.js';
import { RUNTIME, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

/** `ctr task metrics` prints a v1 payload as "METRIC VALUE" rows after a blank line. */
function metricRows(out: string): Map<string, string> {
  const rows = new Map<string, string>();
  const table = out.split(/\n\s*\n/)[1] ?? '';
  for (const line of table.split('\n').slice(1)) {
    const m = /^(\S+)\s+(.*\S)\s*$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe.skipIf(skipUnlessRoot())('stats and OOM through tsshim with real runc', () => {
  let env: TsshimEnv;

  beforeAll(async () => {
    env = await startTsshimEnv();
  });

  afterAll(async () => {
    await env?.stop();
  });

  async function runDetached(id: string, cmd: string[], flags: string[] = []): Promise<void> {
    const r = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, ...flags, env.image, id, ...cmd]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }

  async function remove(id: string): Promise<void> {
    await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await eventually(async () => (await env.c.ctr(['task', 'delete', id])).code === 0 || !(await taskExists(id)));
    await env.c.ctr(['container', 'delete', id]);
  }

  async function taskExists(id: string): Promise<boolean> {
    return (await env.c.ctr(['task', 'ls'])).stdout.toString().split('\n').some((l) => l.startsWith(`${id} `));
  }

  it('ctr task metrics shows the real cpu, memory and pids of a running container (cgroup v1 payload)', async () => {
    const id = uniqueId('metrics');
    // Busy work first, so the CPU counter has something to count; then two processes idle.
    await runDetached(id, ['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo ready; sleep 1000 & wait']);
    try {
      let rows = new Map<string, string>();
      await eventually(async () => {
        const r = await env.c.ctr(['task', 'metrics', id]);
        expect(r.code).toBe(0);
        rows = metricRows(r.stdout.toString());
        return Number(rows.get('pids.current')) >= 2;
      }, 20_000);
      // These row names are what ctr prints only after decoding io.containerd.cgroups.v1.Metrics.
      expect(Number(rows.get('pids.current'))).toBeGreaterThanOrEqual(2);
      expect(Number(rows.get('memory.usage_in_bytes'))).toBeGreaterThan(0);
      expect(Number(rows.get('cpuacct.usage'))).toBeGreaterThan(0);
      const perCpu = (rows.get('cpuacct.usage_percpu') ?? '').replace(/[[\]]/g, '').trim().split(/\s+/).map(Number);
      expect(perCpu.length).toBeGreaterThan(0);
      expect(perCpu.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

      const json = await env.c.ctr(['task', 'metrics', '--format', 'json', id]);
      expect(json.code).toBe(0);
      const m = JSON.parse(json.stdout.toString()) as {
        pids: { current: number }; cpu: { usage: { total: number; per_cpu: number[] } };
        memory: { usage: { usage: number; limit: number }; kernel: object; swap?: object };
      };
      expect(m.pids.current).toBeGreaterThanOrEqual(2);
      expect(m.cpu.usage.total).toBeGreaterThan(0);
      expect(m.memory.usage.usage).toBeGreaterThan(0);
      expect(m.memory.usage.limit).toBeGreaterThan(0);
    } finally {
      await remove(id);
    }
  });

  it('the memory limit a container was given is what its stats report', async () => {
    const id = uniqueId('limit');
    await runDetached(id, ['sleep', '1000'], ['--memory-limit', String(64 << 20)]);
    try {
      const r = await env.c.ctr(['task', 'metrics', id]);
      expect(r.code).toBe(0);
      expect(Number(metricRows(r.stdout.toString()).get('memory.limit_in_bytes'))).toBe(64 << 20);
    } finally {
      await remove(id);
    }
  });

  it('a stopped container still answers stats from its cgroup: no processes left', async () => {
    const id = uniqueId('stopped');
    const events = env.c.events();
    await events.ready;
    try {
      await runDetached(id, ['sh', '-c', 'exit 0']);
      await events.waitFor((e) => e.topic === '/tasks/exit' && eventContainerId(e) === id, 20_000);
      const r = await env.c.ctr(['task', 'metrics', id]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(Number(metricRows(r.stdout.toString()).get('pids.current'))).toBe(0);
    } finally {
      await events.stop();
      await remove(id);
    }
  });

  it('a container that exceeds its memory limit is OOM-killed: /tasks/oom comes before its /tasks/exit 137', async () => {
    const id = uniqueId('oom');
    const events = env.c.events();
    await events.ready;
    try {
      // tail keeps everything since the last newline, and /dev/zero has none.
      const r = await env.run(id, ['tail', '/dev/zero'], { flags: ['--memory-limit', String(32 << 20)], timeoutMs: 60_000 });
      expect(r.code).toBe(137);
      await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === id, 20_000);
      // The kernel signals each OOM kill in the cgroup, and a loaded machine can need two before
      // the process dies: every signal is an event (as with the reference shim), all before the exit.
      const topics = events.topics(id).filter((t, i, all) => t.startsWith('/tasks/') && !(t === '/tasks/oom' && all[i - 1] === t));
      expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/oom', '/tasks/exit', '/tasks/delete']);
      const exit = events.events.find((e) => e.topic === '/tasks/exit' && eventContainerId(e) === id)!;
      expect(exit.event['exit_status']).toBe(137);
    } finally {
      await events.stop();
    }
  });

  it('a container killed by a signal, not by the OOM killer, gets no /tasks/oom', async () => {
    const id = uniqueId('nooom');
    const events = env.c.events();
    await events.ready;
    try {
      await runDetached(id, ['sleep', '1000'], ['--memory-limit', String(32 << 20)]);
      await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await events.waitFor((e) => e.topic === '/tasks/exit' && eventContainerId(e) === id, 20_000);
      await env.c.ctr(['task', 'delete', id]);
      await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === id, 20_000);
      expect(events.topics(id)).not.toContain('/tasks/oom');
    } finally {
      await events.stop();
      await env.c.ctr(['container', 'delete', id]);
    }
  });
});

async function eventually(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
