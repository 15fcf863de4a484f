// containerd's regression test for its issue 10589, through tsshim: the init is killed while
// `runc exec` of one exec is still running and a second exec is started. The runtime is real runc
// behind a wrapper that holds the first `runc exec` until the test releases it. The Go runc shim
// of containerd 1.7.24 and 2.1.9 gives exactly the outcome asserted here; that of 1.6.20 predates
// containerd's fix and leaves the task RUNNING.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot } from './harness/index.js';
import { startTsshimEnv, type TsshimEnv } from './tsshim-env.js';
import { eventually, runDetached, shimClient, T, taskStatus, type DetachedTask } from './task-helpers.js';

const Status = { CREATED: 1, STOPPED: 3 };

describe.skipIf(skipUnlessRoot())('the init exits while an exec is being started (containerd issue 10589)', () => {
  let env: TsshimEnv;
  let dir: string;
  let task: DetachedTask | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tss-race-'));
    const runc = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
    const wrapper = join(dir, 'runc');
    // The first `runc exec` after `hold` appears claims it, says it is blocked, and waits for `release`.
    writeFileSync(wrapper, `#!/bin/sh
for a in "$@"; do
  if [ "$a" = exec ]; then
    if rm "${dir}/hold" 2>/dev/null; then
      touch "${dir}/blocked"
      while [ ! -e "${dir}/release" ]; do sleep 0.05; done
    fi
    break
  fi
done
exec ${runc} "$@"
`);
    chmodSync(wrapper, 0o755);
    env = await startTsshimEnv({ config: `default_runtime = "runc"\n[runtimes.runc]\nbinary = "${wrapper}"\n` });
  });

  afterAll(async () => {
    if (dir) writeFileSync(join(dir, 'release'), '');
    await task?.remove();
    await env?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the task becomes STOPPED with 137, both execs stay CREATED and fail to start, and Delete works', async () => {
    task = await runDetached(env, ['sleep', '100000'], { prefix: 'race' });
    const id = task.id;
    const events = env.c.events();
    await events.ready;
    const shim = await shimClient(env, id);
    try {
      writeFileSync(join(dir, 'hold'), '');
      const exec1 = env.c.ctr(['task', 'exec', '-d', '--exec-id', 'exec1', id, 'sleep', '1000'], { timeoutMs: 60_000 });
      await eventually(() => existsSync(join(dir, 'blocked')));

      expect((await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id])).code).toBe(0);
      // Gone from /proc only once reaped: the shim has seen the exit, which it cannot report yet.
      await eventually(() => !existsSync(`/proc/${task!.pid}`));
      const exec2 = await env.c.ctr(['task', 'exec', '-d', '--exec-id', 'exec2', id, 'true'], { timeoutMs: 60_000 });
      expect(exec2.code).not.toBe(0);
      expect(exec2.stderr).toMatch(new RegExp(`container ${id} init process is not running: failed precondition`));

      writeFileSync(join(dir, 'release'), '');
      const first = await exec1;
      expect(first.code).not.toBe(0);
      expect(first.stderr).toMatch(/OCI runtime exec failed/);

      const exit = await events.waitFor((e) => e.topic === '/tasks/exit' && e.event['id'] === id, 30_000);
      expect(exit.event['exit_status']).toBe(137);
      await eventually(async () => (await taskStatus(env, id)) === 'STOPPED');

      const state = (execId: string) => shim.call('State', T.StateRequest.encode({ id, execId }).finish(), T.StateResponse);
      expect((await state(''))!.exitStatus).toBe(137);
      expect((await state('exec1'))!.status).toBe(Status.CREATED);
      expect((await state('exec2'))!.status).toBe(Status.CREATED);

      const deleted = await env.c.ctr(['task', 'delete', id]);
      expect(deleted.stderr).not.toMatch(/cannot delete/);
      expect(await taskStatus(env, id)).toBeUndefined();
      expect(events.events.filter((e) => e.topic === '/tasks/exit' && e.event['id'] === id)).toHaveLength(1);
    } finally {
      shim.close();
      await events.stop();
    }
  });
});
