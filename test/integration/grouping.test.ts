// The `grouping` config key: which tasks one shim daemon serves, and what survives when a
// daemon that serves several tasks dies.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventContainerId, skipUnlessRoot, uniqueId } from './harness/index.js';
import { DEFAULT_CONFIG, RUNTIME, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

async function eventually(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills a detached task and removes it; the delete waits until containerd has seen the exit. */
async function removeTask(env: TsshimEnv, id: string): Promise<void> {
  await env.c.ctr(['task', 'kill', '-s', 'KILL', id]);
  const end = Date.now() + 30_000;
  for (;;) {
    const r = await env.c.ctr(['task', 'delete', id], { timeoutMs: 30_000 });
    if (r.code === 0 || /not found/.test(r.stderr.toString()) || Date.now() > end) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  await env.c.ctr(['container', 'delete', id]);
}

describe.skipIf(skipUnlessRoot())('grouping = "node"', () => {
  let env: TsshimEnv;
  beforeAll(async () => {
    env = await startTsshimEnv({ config: `grouping = "node"\n${DEFAULT_CONFIG}` });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('one daemon serves every task of the namespace and exits after the last one', async () => {
    const ids = [uniqueId('n1'), uniqueId('n2'), uniqueId('n3')];
    try {
      for (const id of ids) expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, 'sleep', '600'])).code).toBe(0);
      expect(env.shimProcesses()).toHaveLength(1);
      // A task run to completion in between is served by the same daemon too.
      const r = await env.run(uniqueId('n4'), ['sh', '-c', 'echo through-the-node-daemon; exit 5']);
      expect(r.stdout.toString()).toBe('through-the-node-daemon\n');
      expect(r.code).toBe(5);
      expect(env.shimProcesses()).toHaveLength(1);
      // The daemon logs beside its socket, not to the first task's (since deleted) log FIFO.
      expect(readdirSync(env.socketDir).filter((f) => f.endsWith('.log'))).toHaveLength(1);
    } finally {
      for (const id of ids) await removeTask(env, id);
    }
    await eventually(() => env.shimProcesses().length === 0);
    expect(readdirSync(env.socketDir).filter((f) => !f.endsWith('.log'))).toEqual([]);
  });

  it("after the daemon's crash, delete reports each task's persisted exit status; the running one is killed", async () => {
    const exited = uniqueId('gone');
    const running = uniqueId('live');
    const events = env.c.events();
    await events.ready;
    try {
      expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, exited, 'sh', '-c', 'exit 9'])).code).toBe(0);
      expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, running, 'sleep', '600'])).code).toBe(0);
      const exit = await events.waitFor((e) => e.topic === '/tasks/exit' && eventContainerId(e) === exited, 20_000);
      expect(exit.event['exit_status']).toBe(9);
      const shims = env.shimProcesses();
      expect(shims).toHaveLength(1);
      process.kill(shims[0]!, 'SIGKILL');
      // containerd runs `delete` for each task of the dead daemon and publishes its end itself.
      const delExited = await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === exited, 30_000);
      expect(delExited.event['exit_status']).toBe(9);
      const delRunning = await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === running, 30_000);
      expect(delRunning.event['exit_status']).toBe(137);
      // The next task gets a new daemon.
      const r = await env.run(uniqueId('after'), ['sh', '-c', 'exit 2']);
      expect(r.code).toBe(2);
    } finally {
      await events.stop();
      for (const id of [exited, running]) await env.c.ctr(['container', 'delete', id]);
    }
    await eventually(() => env.shimProcesses().length === 0);
  });
});

describe.skipIf(skipUnlessRoot())('grouping from the runtime options', () => {
  it('start reads grouping from the config file containerd names in the runtime options (ctr --runtime-config-path)', async () => {
    const env = await startTsshimEnv();
    const ids = [uniqueId('o1'), uniqueId('o2')];
    const config = join(env.socketDir, '..', 'node.toml');
    writeFileSync(config, `grouping = "node"\n${DEFAULT_CONFIG}`);
    try {
      for (const id of ids) {
        const r = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, '--runtime-config-path', config, env.image, id, 'sleep', '600']);
        expect(r.code).toBe(0);
      }
      // The environment's config says "pod" (the default), and the tasks share no annotation.
      expect(env.shimProcesses()).toHaveLength(1);
    } finally {
      for (const id of ids) await removeTask(env, id);
      await env.stop();
    }
  });
});

describe.skipIf(skipUnlessRoot())('grouping = "task"', () => {
  it('gives each task its own daemon even when they share a group annotation', async () => {
    const env = await startTsshimEnv({ config: `grouping = "task"\n${DEFAULT_CONFIG}` });
    const ids = [uniqueId('t1'), uniqueId('t2')];
    try {
      for (const id of ids) {
        const r = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, '--annotation', 'io.containerd.runc.v2.group=shared', env.image, id, 'sleep', '600']);
        expect(r.code).toBe(0);
      }
      expect(env.shimProcesses()).toHaveLength(2);
    } finally {
      for (const id of ids) await removeTask(env, id);
      await env.stop();
    }
    expect(existsSync(env.socketDir) ? readdirSync(env.socketDir) : []).toEqual([]);
  });
});
