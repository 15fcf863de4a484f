import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot } from './harness/index.js';
import { startCriEnv, type CriEnv } from './cri-env.js';

describe.skipIf(skipUnlessRoot())('a pod through CRI on the tsshim handler', () => {
  let env: CriEnv;

  beforeAll(async () => {
    env = await startCriEnv();
  }, 240_000);

  afterAll(async () => {
    await env?.stop();
  }, 120_000);

  it('runs a container: RUNNING with pid and start time, then Completed with exit code and finished time', async () => {
    const pod = await env.runPod('lifecycle', { handler: 'tsshim' });
    const ps = (await env.cri.call('PodSandboxStatus', { pod_sandbox_id: pod.id }))['status'];
    expect(ps.state).toBe('SANDBOX_READY');
    const id = await env.startContainer(pod, 'app', ['sh', '-c', 'echo hello; sleep 2; exit 0']);
    const running = await env.waitContainer(id, 'CONTAINER_RUNNING');
    expect(BigInt(running.started_at)).toBeGreaterThan(0n);
    const exited = await env.waitContainer(id, 'CONTAINER_EXITED');
    expect(exited.exit_code).toBe(0);
    expect(exited.reason).toBe('Completed');
    expect(BigInt(exited.finished_at)).toBeGreaterThanOrEqual(BigInt(exited.started_at));
    expect(fs.readFileSync(env.logFile(pod, 'app'), 'utf8')).toMatch(/^\S+ stdout F hello\n$/);
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);
});
