// A pod on the tsshim-gvisor handler, driven through containerd's CRI plugin in kubelet's order:
// runsc runs the pod's application containers inside the sandbox the pause container booted.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot } from './harness/index.js';
import { startCriEnv, type CriEnv, type Pod } from './cri-env.js';

/** runsc processes (sandbox, gofer, helpers) of a pod: their command lines name its sandbox id. */
function runscProcesses(pod: Pod): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd: string[];
    try {
      cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (cmd.some((a) => a.includes('runsc')) && cmd.includes(pod.id)) out.push(`${p}: ${cmd.join(' ')}`);
  }
  return out;
}

async function logHas(env: CriEnv, pod: Pod, name: string, text: string): Promise<string> {
  for (let i = 0; ; i++) {
    const log = fs.existsSync(env.logFile(pod, name)) ? fs.readFileSync(env.logFile(pod, name), 'utf8') : '';
    if (log.includes(text) || i > 300) return log;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(skipUnlessRoot())('a pod through CRI on the tsshim-gvisor handler', () => {
  let env: CriEnv;

  beforeAll(async () => {
    env = await startCriEnv();
  }, 240_000);

  afterAll(async () => {
    await env?.stop();
  }, 120_000);

  it('runs two containers in gVisor with exec, CRI logs, stop and remove, and leaves nothing', async () => {
    const pod = await env.runPod('gvisor', { handler: 'tsshim-gvisor' });
    expect((await env.cri.call('PodSandboxStatus', { pod_sandbox_id: pod.id }))['status'].state).toBe('SANDBOX_READY');
    const names = ['web', 'side'];
    const ids: string[] = [];
    for (const name of names) {
      ids.push(await env.startContainer(pod, name, ['sh', '-c', `trap "echo ${name} got TERM; exit 0" TERM; echo ${name} up; echo ${name} warn >&2; while :; do sleep 1; done`]));
    }
    for (const [i, id] of ids.entries()) {
      const name = names[i]!;
      await env.waitContainer(id, 'CONTAINER_RUNNING');
      // gVisor's kernel log: these containers run on its kernel, not the host's
      const dmesg = await env.cri.call('ExecSync', { container_id: id, cmd: ['dmesg'], timeout: '30' });
      expect([dmesg['exit_code'], dmesg['stdout'].toString()]).toEqual([0, expect.stringContaining('Starting gVisor')]);
      const r = await env.cri.call('ExecSync', { container_id: id, cmd: ['sh', '-c', `echo exec in ${name}; echo to stderr >&2; exit 4`], timeout: '30' });
      expect([r['stdout'].toString(), r['stderr'].toString(), r['exit_code']]).toEqual([`exec in ${name}\n`, 'to stderr\n', 4]);
      const log = await logHas(env, pod, name, `${name} warn`);
      expect(log).toMatch(new RegExp(`^\\S+ stdout F ${name} up$`, 'm'));
      expect(log).toMatch(new RegExp(`^\\S+ stderr F ${name} warn$`, 'm'));
    }
    expect(runscProcesses(pod)).not.toEqual([]);
    // one shim serves the pod: the sandbox and both containers
    expect(env.shimProcesses().filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(pod.id))).toHaveLength(1);

    // SIGTERM reaches the container's shell inside the sandbox, and its exit status comes back
    await env.cri.call('StopContainer', { container_id: ids[0], timeout: '30' });
    const stopped = (await env.cri.call('ContainerStatus', { container_id: ids[0] }))['status'];
    expect([stopped.state, stopped.exit_code, stopped.reason]).toEqual(['CONTAINER_EXITED', 0, 'Completed']);
    expect(await logHas(env, pod, names[0]!, 'got TERM')).toMatch(new RegExp(`^\\S+ stdout F ${names[0]} got TERM$`, 'm'));
    await env.cri.call('RemoveContainer', { container_id: ids[0] });
    // the other container and the pod live on
    expect((await env.cri.call('ContainerStatus', { container_id: ids[1] }))['status'].state).toBe('CONTAINER_RUNNING');
    const again = await env.cri.call('ExecSync', { container_id: ids[1], cmd: ['echo', 'still here'], timeout: '30' });
    expect(again['stdout'].toString()).toBe('still here\n');

    // a container that ends by itself reports its own exit status
    const done = await env.startContainer(pod, 'done', ['sh', '-c', 'echo bye; exit 3']);
    const exited = await env.waitContainer(done, 'CONTAINER_EXITED');
    expect([exited.exit_code, exited.reason]).toEqual([3, 'Error']);
    expect(await logHas(env, pod, 'done', 'bye')).toMatch(/^\S+ stdout F bye$/m);

    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
    expect(runscProcesses(pod)).toEqual([]);
  }, 300_000);
});
