import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrls } from '../../src/api/any.js';
import { eventContainerId, skipUnlessRoot, uniqueId } from './harness/index.js';
import { startTsshimEnv, type TsshimEnv } from './tsshim-env.js';
import { eventually, processSpec, runDetached, shimClient, siblingBundle, T, taskStatus, type DetachedTask, type ShimClient } from './task-helpers.js';

/** The cgroup v1 directory of `pid` for one controller, from /proc/<pid>/cgroup. */
function cgroupDir(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`no ${controller} cgroup for ${pid}`);
  return `/sys/fs/cgroup/${controller}${line.split(':')[2]}`;
}

const resources = (json: object) => ({ typeUrl: TypeUrls.OciLinuxResources, value: Buffer.from(JSON.stringify(json)) });

describe.skipIf(skipUnlessRoot())('task control through tsshim with real runc', () => {
  let env: TsshimEnv;

  beforeAll(async () => {
    env = await startTsshimEnv();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('pause freezes the container and resume thaws it; events and ctr task ls follow', async () => {
    const task = await runDetached(env, ['sleep', '100000'], { prefix: 'pause' });
    const events = env.c.events();
    await events.ready;
    try {
      const freezer = `${cgroupDir(task.pid, 'freezer')}/freezer.state`;
      expect((await env.c.ctr(['task', 'pause', task.id])).code).toBe(0);
      expect(await taskStatus(env, task.id)).toBe('PAUSED');
      expect(readFileSync(freezer, 'utf8').trim()).toBe('FROZEN');

      expect((await env.c.ctr(['task', 'resume', task.id])).code).toBe(0);
      expect(await taskStatus(env, task.id)).toBe('RUNNING');
      expect(readFileSync(freezer, 'utf8').trim()).toBe('THAWED');

      await events.waitFor((e) => e.topic === '/tasks/resumed' && eventContainerId(e) === task.id, 10_000);
      expect(events.topics(task.id)).toEqual(['/tasks/paused', '/tasks/resumed']);
    } finally {
      await events.stop();
      await task.remove();
    }
  });

  // ctr of containerd 1.x appends the gRPC code (": unknown"); 2.x prints the message alone.
  it('pause and resume in the wrong state give the reference errors through ctr', async () => {
    const task = await runDetached(env, ['sleep', '100000'], { prefix: 'pausewrong' });
    try {
      const resumeRunning = await env.c.ctr(['task', 'resume', task.id]);
      expect(resumeRunning.stderr).toMatch(/cannot resume a running process(: unknown)?$/m);
      expect((await env.c.ctr(['task', 'pause', task.id])).code).toBe(0);
      const pausePaused = await env.c.ctr(['task', 'pause', task.id]);
      expect(pausePaused.code).not.toBe(0);
      expect(pausePaused.stderr).toMatch(/cannot pause a paused container(: unknown)?$/m);
    } finally {
      await task.remove();
    }
    const done = await runDetached(env, ['true'], { prefix: 'pausestopped' });
    try {
      await eventually(async () => (await taskStatus(env, done.id)) === 'STOPPED');
      expect((await env.c.ctr(['task', 'pause', done.id])).stderr).toMatch(/cannot pause a stopped container(: unknown)?$/m);
      expect((await env.c.ctr(['task', 'resume', done.id])).stderr).toMatch(/cannot resume a stopped container(: unknown)?$/m);
    } finally {
      await done.remove();
    }
  });

  // ctr 1.6 (and 1.7, 2.1) has no `task update`; containerd forwards Update unchanged, so the
  // request goes to the shim's socket as containerd would send it.
  it("update changes the memory limit in the container's memory cgroup", async () => {
    const task = await runDetached(env, ['sleep', '100000'], { prefix: 'update' });
    const client = await shimClient(env, task.id);
    try {
      const limitFile = `${cgroupDir(task.pid, 'memory')}/memory.limit_in_bytes`;
      const limit = 96 * 1024 * 1024;
      expect(Number(readFileSync(limitFile, 'utf8'))).not.toBe(limit);
      await client.call('Update', T.UpdateTaskRequest.encode({ id: task.id, resources: resources({ memory: { limit } }) }).finish());
      expect(Number(readFileSync(limitFile, 'utf8'))).toBe(limit);
    } finally {
      client.close();
      await task.remove();
    }
  });

  // A container's PID 1 ignores SIGTERM unless it installs a handler; its children do not.
  it('kill --all reaches every process of the container, execs included; plain kill only the init', async () => {
    const task = await runDetached(env, ['sh', '-c', 'sleep 1000 & sleep 1001 & wait'], { prefix: 'killall' });
    const events = env.c.events();
    await events.ready;
    try {
      expect((await env.c.ctr(['task', 'exec', '-d', '--exec-id', 'ex', task.id, 'sleep', '1002'])).code).toBe(0);
      const pids = async () => (await env.c.ctr(['task', 'ps', task.id])).stdout.toString().trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0]));
      // sh, both sleeps once sh has forked them, and the exec.
      let before: number[] = [];
      await expect.poll(async () => (before = await pids()).length, { timeout: 10_000 }).toBe(4);

      expect((await env.c.ctr(['task', 'kill', '-s', 'SIGTERM', task.id])).code).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      expect(await taskStatus(env, task.id)).toBe('RUNNING');
      expect((await pids()).sort()).toEqual([...before].sort());

      expect((await env.c.ctr(['task', 'kill', '-a', '-s', 'SIGTERM', task.id])).code).toBe(0);
      const initExit = await events.waitFor((e) => e.topic === '/tasks/exit' && e.event['id'] === task.id, 10_000);
      const execExit = events.events.find((e) => e.topic === '/tasks/exit' && e.event['id'] === 'ex');
      expect(execExit?.event['exit_status']).toBe(143);
      // The shell's `wait` returns once its children are dead, and the shell exits normally.
      expect(initExit.event['exit_status'] ?? 0).toBe(0);
      for (const pid of before) expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      await events.stop();
      await task.remove();
    }
  });

  describe('the state machine of spec §3.4 over the shim socket', () => {
    let running: DetachedTask;
    let client: ShimClient;
    const req = {
      start: (id: string, execId = '') => T.StartRequest.encode({ id, execId }).finish(),
      delete: (id: string, execId = '') => T.DeleteRequest.encode({ id, execId }).finish(),
      pause: (id: string) => T.PauseRequest.encode({ id }).finish(),
      resume: (id: string) => T.ResumeRequest.encode({ id }).finish(),
      update: (id: string) => T.UpdateTaskRequest.encode({ id, resources: resources({ cpu: { shares: 512 } }) }).finish(),
      checkpoint: (id: string) => T.CheckpointTaskRequest.encode({ id, path: '/nonexistent-image' }).finish(),
      exec: (id: string, execId: string) => T.ExecProcessRequest.encode({ id, execId, spec: processSpec(['sleep', '1000']) }).finish(),
      kill: (id: string, execId = '', signal = 9) => T.KillRequest.encode({ id, execId, signal }).finish(),
      state: (id: string, execId = '') => T.StateRequest.encode({ id, execId }).finish(),
      wait: (id: string, execId = '') => T.WaitRequest.encode({ id, execId }).finish(),
    };
    const unknown = (message: string) => ({ code: 2, message });

    beforeAll(async () => {
      running = await runDetached(env, ['sleep', '100000'], { prefix: 'sm' });
      client = await shimClient(env, running.id);
    });

    afterAll(async () => {
      client?.close();
      await running?.remove();
    });

    it('created: pause, resume and checkpoint are refused; update and exec are allowed; a created exec cannot be killed', async () => {
      const id = uniqueId('created');
      const sibling = siblingBundle(env, running.id, id);
      try {
        const created = await client.call('Create', T.CreateTaskRequest.encode({ id, bundle: sibling.bundle }).finish(), T.CreateTaskResponse);
        expect(created!.pid).toBeGreaterThan(0);
        const state = await client.call('State', req.state(id), T.StateResponse);
        expect(state!.status).toBe(1); // CREATED
        expect(await client.failure('Pause', req.pause(id))).toEqual(unknown('cannot pause task in created state'));
        expect(await client.failure('Resume', req.resume(id))).toEqual(unknown('cannot resume task in created state'));
        expect(await client.failure('Checkpoint', req.checkpoint(id))).toEqual(unknown('cannot checkpoint a task in created state'));
        await client.call('Update', req.update(id));
        await client.call('Exec', req.exec(id, 'early'));
        expect(await client.failure('Kill', req.kill(id, 'early'))).toEqual({ code: 9, message: 'process not created: failed precondition' });
        await client.call('Delete', req.delete(id, 'early'));
        await client.call('Delete', req.delete(id));
        expect(await client.failure('State', req.state(id))).toEqual({ code: 5, message: 'container not created: not found' });
        expect(await client.failure('Delete', req.delete(id))).toEqual({ code: 5, message: 'container not created: not found' });
      } finally {
        sibling.remove();
      }
    });

    it('running: start, delete and resume are refused', async () => {
      const id = running.id;
      expect(await client.failure('Start', req.start(id))).toEqual(unknown('cannot start a running process'));
      expect(await client.failure('Delete', req.delete(id))).toEqual(unknown('cannot delete a running process'));
      expect(await client.failure('Resume', req.resume(id))).toEqual(unknown('cannot resume a running process'));
    });

    it('paused: start, delete, pause and exec are refused; update is allowed', async () => {
      const id = running.id;
      await client.call('Pause', req.pause(id));
      try {
        expect((await client.call('State', req.state(id), T.StateResponse))!.status).toBe(4); // PAUSED
        expect(await client.failure('Start', req.start(id))).toEqual(unknown('cannot start a paused process'));
        expect(await client.failure('Delete', req.delete(id))).toEqual(unknown('cannot delete a paused process'));
        expect(await client.failure('Pause', req.pause(id))).toEqual(unknown('cannot pause a paused container'));
        expect(await client.failure('Exec', req.exec(id, 'frozen'))).toEqual(unknown('cannot exec in a paused state'));
        await client.call('Update', req.update(id));
      } finally {
        await client.call('Resume', req.resume(id));
      }
    });

    it('execs: start twice, delete while running, unknown ids, kill and delete after exit', async () => {
      const id = running.id;
      await client.call('Exec', req.exec(id, 'x1'));
      expect(await client.failure('Exec', req.exec(id, 'x1'))).toEqual({ code: 6, message: 'id x1: already exists' });
      expect(await client.failure('Exec', req.exec(id, id))).toEqual({ code: 6, message: `id ${id}: already exists` });
      const started = await client.call('Start', req.start(id, 'x1'), T.StartResponse);
      expect(started!.pid).toBeGreaterThan(0);
      expect(await client.failure('Start', req.start(id, 'x1'))).toEqual(unknown('cannot start a running process'));
      expect(await client.failure('Delete', req.delete(id, 'x1'))).toEqual(unknown('cannot delete a running process'));
      expect(await client.failure('Kill', req.kill(id, 'nope'))).toEqual({ code: 5, message: 'process does not exist nope: not found' });
      expect(await client.failure('State', req.state(id, 'nope'))).toEqual({ code: 5, message: 'process does not exist nope: not found' });

      await client.call('Kill', req.kill(id, 'x1', 9));
      const waited = await client.call('Wait', req.wait(id, 'x1'), T.WaitResponse);
      expect(waited!.exitStatus).toBe(137);
      expect(await client.failure('Kill', req.kill(id, 'x1'))).toEqual({ code: 5, message: 'process already finished: not found' });
      expect(await client.failure('Start', req.start(id, 'x1'))).toEqual(unknown('cannot start a stopped process'));
      const deleted = await client.call('Delete', req.delete(id, 'x1'), T.DeleteResponse);
      expect(deleted).toMatchObject({ pid: started!.pid, exitStatus: 137 });
      expect(await client.failure('Delete', req.delete(id, 'x1'))).toEqual({ code: 5, message: 'process does not exist x1: not found' });
    });

    it('stopped: only kill (NotFound) and delete remain', async () => {
      const done = await runDetached(env, ['true'], { prefix: 'smstopped' });
      const c = await shimClient(env, done.id);
      try {
        await eventually(async () => (await taskStatus(env, done.id)) === 'STOPPED');
        const id = done.id;
        expect(await c.failure('Start', req.start(id))).toEqual(unknown('cannot start a stopped process'));
        expect(await c.failure('Pause', req.pause(id))).toEqual(unknown('cannot pause a stopped container'));
        expect(await c.failure('Resume', req.resume(id))).toEqual(unknown('cannot resume a stopped container'));
        expect(await c.failure('Update', req.update(id))).toEqual(unknown('cannot update a stopped container'));
        expect(await c.failure('Checkpoint', req.checkpoint(id))).toEqual(unknown('cannot checkpoint a stopped container'));
        expect(await c.failure('Exec', req.exec(id, 'late'))).toEqual(unknown('cannot exec in a stopped state'));
        expect(await c.failure('Kill', req.kill(id))).toEqual({ code: 5, message: 'process already finished: not found' });
      } finally {
        c.close();
        await done.remove();
      }
    });
  });
});
