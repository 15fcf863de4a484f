import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventContainerId, skipUnlessRoot, uniqueId } from './harness/index.js';
import { bundleDir, RUNTIME, socketsLeft, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(skipUnlessRoot())('ctr run through tsshim with real runc', () => {
  let env: TsshimEnv;

  beforeAll(async () => {
    env = await startTsshimEnv();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it.each([0, 3, 42])('exit code %i comes back exactly', async (code) => {
    const r = await env.run(uniqueId('exit'), ['sh', '-c', `exit ${code}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(code);
  });

  it('stdout and stderr arrive byte-exact and separately', async () => {
    const r = await env.run(uniqueId('out'), ['sh', '-c', 'printf "to out\\n"; printf "to err\\n" >&2; printf "no newline"']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('to out\nno newline');
    expect(r.stderr).toBe('to err\n');
  });

  it('50 MB of random binary output arrives intact (hashed inside and outside the container)', async () => {
    const script = 'head -c 52428800 /dev/urandom > /tmp/data && sha256sum /tmp/data >&2 && cat /tmp/data';
    const r = await env.run(uniqueId('big'), ['sh', '-c', script], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(52428800);
    expect(/\b([0-9a-f]{64})\s+\/tmp\/data/.exec(r.stderr)?.[1]).toBe(sha256(r.stdout));
  });

  it('binary stdin reaches the container and comes back unchanged; its EOF ends the process', async () => {
    const input = randomBytes(1 << 20);
    const r = await env.run(uniqueId('cat'), ['cat'], { input, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(input.length);
    expect(sha256(r.stdout)).toBe(sha256(input));
  });

  it("`echo hi > /dev/stdout` works (the container's stdout is a real pipe)", async () => {
    const r = await env.run(uniqueId('devstdout'), ['sh', '-c', 'echo hi > /dev/stdout && echo err > /dev/stderr']);
    expect(r.stderr).toBe('err\n');
    expect(r.stdout.toString()).toBe('hi\n');
    expect(r.code).toBe(0);
  });

  // A container's PID 1 ignores SIGTERM unless it installs a handler, so this task joins the
  // host's PID namespace: its shell then really dies of the signal. That also exercises the
  // shim killing the rest of a container without its own PID namespace when the init exits.
  it('a detached task is RUNNING, lists its pids, dies of SIGTERM with 143, and leaves nothing behind', async () => {
    const id = uniqueId('det');
    const events = env.c.events();
    await events.ready;
    try {
      const run = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, '--with-ns', `pid:/proc/${process.pid}/ns/pid`, env.image, id, 'sh', '-c', 'sleep 1000 & wait']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);

      const ls = await env.c.ctr(['task', 'ls']);
      expect(ls.stdout.toString()).toMatch(new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm'));

      // The task is RUNNING once sh runs; sleep follows when sh has forked it.
      let pids: number[] = [];
      await expect
        .poll(async () => {
          const ps = await env.c.ctr(['task', 'ps', id]);
          pids = ps.stdout.toString().trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0]));
          return pids.length;
        }, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(2); // sh and sleep
      for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(true);

      const kill = await env.c.ctr(['task', 'kill', '-s', 'SIGTERM', id]);
      expect(kill.code).toBe(0);
      const exit = await events.waitFor((e) => e.topic === '/tasks/exit' && eventContainerId(e) === id, 20_000);
      expect(exit.event['exit_status']).toBe(143);

      const del = await env.c.ctr(['task', 'delete', id]);
      expect(del.stderr).toMatch(/exit with non-zero exit code 143/);
      expect(del.code).toBe(0);
      await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === id, 20_000);
      await env.c.ctr(['container', 'delete', id]);
      for (const pid of pids) expect(existsSync(`/proc/${pid}`) && !isZombie(pid)).toBe(false);
      await eventually(() => env.shimProcesses().length === 0);
      expect(socketsLeft(env)).toEqual([]);
      expect(existsSync(bundleDir(env.c, id))).toBe(false);
    } finally {
      await events.stop();
    }
  });

  // `ctr run` exits with the task's exit status, which is how ctr reports it.
  it.each([
    ['SIGKILL', 137, []],
    ['SIGTERM', 143, ['--with-ns', `pid:/proc/${process.pid}/ns/pid`]],
  ])('%s gives %i as ctr run reports it', async (signal, status, flags) => {
    const id = uniqueId('sig');
    const run = env.run(id, ['sleep', '1000'], { flags: flags as string[] });
    await eventually(async () => /RUNNING/.test((await env.c.ctr(['task', 'ls'])).stdout.toString().split('\n').find((l) => l.startsWith(id)) ?? ''));
    expect((await env.c.ctr(['task', 'kill', '-s', signal as string, id])).code).toBe(0);
    expect((await run).code).toBe(status);
  });

  it('publishes create, start, exit (status and pid) and delete in that order', async () => {
    const id = uniqueId('ev');
    const events = env.c.events();
    await events.ready;
    try {
      const r = await env.run(id, ['sh', '-c', 'exit 7']);
      expect(r.code).toBe(7);
      await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === id, 20_000);
      const mine = events.events.filter((e) => e.topic.startsWith('/tasks/') && eventContainerId(e) === id);
      expect(mine.map((e) => e.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
      const create = mine[0]!.event;
      const exit = mine[2]!.event;
      expect(exit['exit_status']).toBe(7);
      expect(exit['pid']).toBe(create['pid']);
      expect(exit['id']).toBe(id);
      expect(typeof create['pid']).toBe('number');
    } finally {
      await events.stop();
    }
  });

  it('20 containers started in parallel all end with their own exit codes', async () => {
    const runs = Array.from({ length: 20 }, (_, i) => env.run(uniqueId(`par${i}`), ['sh', '-c', `echo ${i}; exit ${i + 1}`], { timeoutMs: 180_000 }));
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      expect(r.stdout.toString()).toBe(`${i}\n`);
      expect(r.code).toBe(i + 1);
    });
  }, 240_000);
});

function isZombie(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? false;
  } catch {
    return false;
  }
}

async function eventually(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
