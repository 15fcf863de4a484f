// containerd restarts (service restart, upgrade) while tsshim tasks run. containerd 1.6 and 1.7
// find a live shim again through <bundle>/address, which the shim writes; 2.x through the
// bootstrap.json it wrote itself after `start`. 1.7 and 2.x then also ask the shim for the
// task's Pids and drop a task whose list is empty as a leaked shim. A shim that cannot be
// reached is cleaned up with the shim's `delete` action on every version.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventContainerId, skipUnlessRoot, uniqueId } from './harness/index.js';
import { eventually, taskStatus } from './task-helpers.js';
import { bundleDir, RUNTIME, socketsLeft, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.skipIf(skipUnlessRoot())('containerd restarts while tsshim tasks run', () => {
  let env: TsshimEnv;
  let major: number;

  beforeAll(async () => {
    env = await startTsshimEnv();
    major = Number(env.c.version.split('.')[0]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  async function runDetached(id: string, cmd: string[]): Promise<{ pid: number; shim: number }> {
    const before = new Set(env.shimProcesses());
    const r = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, ...cmd]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ls = (await env.c.ctr(['task', 'ls'])).stdout.toString();
    const pid = Number(new RegExp(`^${id}\\s+(\\d+)\\s+RUNNING`, 'm').exec(ls)?.[1]);
    expect(pid, ls).toBeGreaterThan(0);
    const shims = env.shimProcesses().filter((p) => !before.has(p));
    expect(shims).toHaveLength(1);
    return { pid, shim: shims[0]! };
  }

  it('the task is RUNNING again after the restart, and kill, its exit, delete and the shim shutdown all work', async () => {
    const id = uniqueId('rs');
    const { pid, shim } = await runDetached(id, ['sleep', '1000']);
    const bundle = bundleDir(env.c, id);
    // What each version reads to reconnect.
    if (major >= 2) expect(JSON.parse(readFileSync(join(bundle, 'bootstrap.json'), 'utf8'))).toMatchObject({ protocol: 'ttrpc', version: 2 });
    else expect(existsSync(join(bundle, 'bootstrap.json'))).toBe(false);
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toMatch(/^unix:\/\//);
    const oldDaemon = env.c.pid;

    await env.c.restart({
      whileStopped: () => {
        expect(alive(oldDaemon)).toBe(false);
        expect(alive(shim)).toBe(true);
        expect(alive(pid)).toBe(true);
      },
    });
    expect(env.c.pid).not.toBe(oldDaemon);

    const ls = (await env.c.ctr(['task', 'ls'])).stdout.toString();
    expect(ls).toMatch(new RegExp(`^${id}\\s+${pid}\\s+RUNNING`, 'm'));
    expect(env.shimProcesses()).toEqual([shim]);
    expect(env.c.logs()).not.toMatch(/level=error.*(cleanup|leaked|load)/);

    const events = env.c.events();
    await events.ready;
    try {
      expect((await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id])).code).toBe(0);
      const exit = await events.waitFor((e) => e.topic === '/tasks/exit' && eventContainerId(e) === id, 20_000);
      expect(exit.event['exit_status']).toBe(137);
      await eventually(async () => (await taskStatus(env, id)) === 'STOPPED');
      // ctr warns about a non-zero exit status and succeeds.
      const del = await env.c.ctr(['task', 'delete', id]);
      expect(del.stderr).toMatch(/^(.*non-zero exit code 137.*\n)?$/);
      expect(del.code).toBe(0);
      await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === id, 20_000);
    } finally {
      await events.stop();
    }
    expect((await env.c.ctr(['container', 'delete', id])).code).toBe(0);
    await eventually(() => !alive(shim));
    expect(alive(pid)).toBe(false);
    expect(env.shimProcesses()).toEqual([]);
    expect(socketsLeft(env)).toEqual([]);
    expect(existsSync(bundle)).toBe(false);
  });

  // containerd 1.6 shows such a task as STOPPED. 1.7 and 2.x ask the shim for the task's Pids
  // when they reload it and treat an empty list (the init has exited) as a shim leaked by a
  // crash during create: they Delete the task and Shutdown the shim, as with the Go runc shim.
  it('a task that exits while containerd is down: STOPPED with its exit status on 1.6, dropped as leaked on 1.7 and 2.x', async () => {
    const id = uniqueId('rx');
    const { pid, shim } = await runDetached(id, ['sh', '-c', 'sleep 2; exit 5']);
    const bundle = bundleDir(env.c, id);
    await env.c.restart({
      whileStopped: async () => {
        await eventually(() => !alive(pid), 15_000);
        // Let the shim see the exit and try to publish it while no one listens.
        await new Promise((r) => setTimeout(r, 500));
      },
    });
    if (env.c.version.startsWith('1.6.')) {
      await eventually(async () => (await taskStatus(env, id)) === 'STOPPED');
      // ctr warns about a non-zero exit status and succeeds.
      const del = await env.c.ctr(['task', 'delete', id]);
      expect(del.stderr).toMatch(/non-zero exit code 5\b/);
      expect(del.code).toBe(0);
    } else {
      await eventually(async () => (await taskStatus(env, id)) === undefined);
      expect(env.c.logs()).toMatch(new RegExp(`cleaning leaked shim process.*id=${id}`));
    }
    expect((await env.c.ctr(['container', 'delete', id])).code).toBe(0);
    await eventually(() => !alive(shim));
    expect(env.shimProcesses()).toEqual([]);
    expect(socketsLeft(env)).toEqual([]);
    expect(existsSync(bundle)).toBe(false);
  });

  // While containerd is down the shim's retry back-off grows to seconds. On 1.7 and 2.x the
  // reload drops the exited task and shuts the shim down before containerd's ttrpc socket
  // listens: the daemon retries its held events every few ms from then on (instead of waiting
  // out the back-off past its flush bound, and lingering that long) and exits once they are
  // out. containerd stops copying the shim's log at Shutdown, so the delivery itself is
  // asserted by the publisher's unit test; the time to exit is measured by `npm run soak`.
  it('after a restart, a shim holding an undelivered exit is gone once the restart settles, with nothing left', async () => {
    const id = uniqueId('rf');
    const { pid, shim } = await runDetached(id, ['sh', '-c', 'sleep 1; exit 7']);
    await env.c.restart({
      whileStopped: async () => {
        await eventually(() => !alive(pid), 15_000);
        // Long enough for the back-off to grow near its cap.
        await new Promise((r) => setTimeout(r, 4_000));
      },
    });
    if (env.c.version.startsWith('1.6.')) {
      await eventually(async () => (await taskStatus(env, id)) === 'STOPPED');
      const del = await env.c.ctr(['task', 'delete', id]);
      expect(del.stderr).toMatch(/non-zero exit code 7\b/);
      expect(del.code).toBe(0);
    } else {
      await eventually(async () => (await taskStatus(env, id)) === undefined);
    }
    expect((await env.c.ctr(['container', 'delete', id])).code).toBe(0);
    // 1.7 and 2.x shut the shim down while they boot: by the time containerd has answered,
    // dropped the task and deleted the container, the daemon has delivered its events and is gone.
    if (!env.c.version.startsWith('1.6.')) expect(alive(shim)).toBe(false);
    await eventually(() => !alive(shim));
    expect(env.c.logs().split('\n').filter((l) => l.includes(`"shim_pid":${shim},`) && /events not delivered before exit/.test(l))).toEqual([]);
    expect(env.shimProcesses()).toEqual([]);
    expect(socketsLeft(env)).toEqual([]);
  });

  it('a shim that died while containerd was down is cleaned up with `delete`: the container is killed and nothing is left', async () => {
    const id = uniqueId('rd');
    const { pid, shim } = await runDetached(id, ['sleep', '1000']);
    const bundle = bundleDir(env.c, id);
    await env.c.restart({
      whileStopped: async () => {
        process.kill(shim, 'SIGKILL');
        await eventually(() => !alive(shim), 10_000);
        expect(alive(pid)).toBe(true);
      },
    });
    // containerd could not reach the shim, ran `<shim> delete`, which killed the container
    // through the runtime, and removed the bundle; the task is gone, the container record stays.
    await eventually(() => !alive(pid), 15_000);
    const ls = (await env.c.ctr(['task', 'ls'])).stdout.toString();
    expect(ls).not.toContain(id);
    expect(existsSync(bundle)).toBe(false);
    expect((await env.c.ctr(['container', 'delete', id])).code).toBe(0);
    expect(env.shimProcesses()).toEqual([]);
    expect(socketsLeft(env)).toEqual([]);
  });
});
