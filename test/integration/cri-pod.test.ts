// Pods on the tsshim handler (runc), driven through containerd's CRI plugin in kubelet's order.
import * as fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot } from './harness/index.js';
import { CriError, type Msg } from './cri-client.js';
import { startCriEnv, type CriEnv, type Pod } from './cri-env.js';

/** The pid containerd reports for a container (ContainerStatus verbose info, as crictl inspect shows it). */
async function pidOf(env: CriEnv, id: string): Promise<number> {
  const r = await env.cri.call('ContainerStatus', { container_id: id, verbose: true });
  return JSON.parse(r['info']['info'])['pid'] as number;
}

async function sandboxPid(env: CriEnv, pod: Pod): Promise<number> {
  const r = await env.cri.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true });
  return JSON.parse(r['info']['info'])['pid'] as number;
}

/** The streams of a CRI log file put back together: a P(artial) chunk has no newline of its own. */
function fromCriLog(text: string): { stdout: string; stderr: string; lines: string[] } {
  const out = { stdout: '', stderr: '', lines: [] as string[] };
  for (const line of text.split('\n').filter(Boolean)) {
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(line);
    if (!m) throw new Error(`not a CRI log line: ${JSON.stringify(line.slice(0, 100))}`);
    out.lines.push(`${m[2]} ${m[3]}`);
    out[m[2] as 'stdout' | 'stderr'] += m[4] + (m[3] === 'F' ? '\n' : '');
  }
  return out;
}

function nsOf(pid: number | 'self', ns: string): string {
  return fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
}

describe.skipIf(skipUnlessRoot())('pods through CRI on the tsshim handler, beside the Go runc shim', () => {
  let env: CriEnv;

  beforeAll(async () => {
    env = await startCriEnv();
  }, 240_000);

  afterAll(async () => {
    await env?.stop();
  }, 120_000);

  // A failed test's pod must not count as the next test's leftover.
  afterEach(async () => {
    await env?.removeAllPods();
  }, 120_000);

  // The same calls through containerd's own runc shim (the default handler) show that tsshim answers as it does.
  it.each([
    ['tsshim', 'tsshim'],
    ['the Go runc shim', ''],
  ])('%s runs containers to RUNNING with pid and start time, then Completed or Error with exit code and finished time; nothing is left after removal', async (_, handler) => {
    const shimsBefore = env.shimProcesses().length;
    const pod = await env.runPod('lifecycle', { handler });
    expect((await env.cri.call('PodSandboxStatus', { pod_sandbox_id: pod.id }))['status'].state).toBe('SANDBOX_READY');
    const ok = await env.startContainer(pod, 'ok', ['sh', '-c', 'echo hello; exec sleep 1000'], { env: { GREETING: 'hi' } });
    const bad = await env.startContainer(pod, 'bad', ['sh', '-c', 'echo oops >&2; sleep 1; exit 3']);

    const running = await env.waitContainer(ok, 'CONTAINER_RUNNING');
    expect(BigInt(running.started_at)).toBeGreaterThan(0n);
    expect(BigInt(running.finished_at)).toBe(0n);
    const pid = await pidOf(env, ok);
    expect(pid).toBeGreaterThan(0);
    expect(fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('GREETING=hi');

    const failed = await env.waitContainer(bad, 'CONTAINER_EXITED');
    expect([failed.exit_code, failed.reason]).toEqual([3, 'Error']);
    expect(BigInt(failed.finished_at)).toBeGreaterThanOrEqual(BigInt(failed.started_at));
    expect(fs.readFileSync(env.logFile(pod, 'bad'), 'utf8')).toMatch(/^\S+ stderr F oops\n$/);

    // one shim serves the whole pod: sandbox and both containers
    expect(env.shimProcesses().length - shimsBefore).toBe(1);

    // sleep as the container's pid 1 has no SIGTERM handler, so the kernel ignores SIGTERM: SIGKILL ends it
    await env.cri.call('StopContainer', { container_id: ok, timeout: '2' });
    const stopped = (await env.cri.call('ContainerStatus', { container_id: ok }))['status'];
    expect([stopped.state, stopped.exit_code, stopped.reason]).toEqual(['CONTAINER_EXITED', 137, 'Error']);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);

    const done = await env.startContainer(pod, 'done', ['sh', '-c', 'exit 0']);
    const completed = await env.waitContainer(done, 'CONTAINER_EXITED');
    expect([completed.exit_code, completed.reason]).toEqual([0, 'Completed']);

    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  it.each([
    ['tsshim', 'tsshim'],
    ['the Go runc shim', ''],
  ])('%s: StopContainer sends SIGTERM first and SIGKILL only when the grace period expires', async (_, handler) => {
    const pod = await env.runPod('grace', { handler });
    const polite = await env.startContainer(pod, 'polite', ['sh', '-c', 'trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 1; done']);
    const stubborn = await env.startContainer(pod, 'stubborn', ['sh', '-c', 'trap "echo ignoring TERM" TERM; echo ready; while :; do sleep 1; done']);
    for (const [id, name] of [[polite, 'polite'], [stubborn, 'stubborn']] as const) {
      await env.waitContainer(id, 'CONTAINER_RUNNING');
      for (let i = 0; !fs.readFileSync(env.logFile(pod, name), 'utf8').includes('ready'); i++) {
        if (i > 300) throw new Error(`${name} never became ready`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await env.cri.call('StopContainer', { container_id: polite, timeout: '30' });
    const p = (await env.cri.call('ContainerStatus', { container_id: polite }))['status'];
    expect([p.exit_code, p.reason]).toEqual([0, 'Completed']);
    expect(fromCriLog(fs.readFileSync(env.logFile(pod, 'polite'), 'utf8')).stdout).toBe('ready\ngot TERM\n');

    await env.cri.call('StopContainer', { container_id: stubborn, timeout: '2' });
    const s = (await env.cri.call('ContainerStatus', { container_id: stubborn }))['status'];
    expect([s.exit_code, s.reason]).toEqual([137, 'Error']);
    expect(fromCriLog(fs.readFileSync(env.logFile(pod, 'stubborn'), 'utf8')).stdout).toMatch(/^ready\n(ignoring TERM\n)+$/);
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  it('ExecSync: stdout and stderr apart, the exit code, and a timeout that kills the exec and says so', async () => {
    const pod = await env.runPod('exec', { handler: 'tsshim' });
    const id = await env.startContainer(pod, 'app', ['sleep', '1000']);
    await env.waitContainer(id, 'CONTAINER_RUNNING');
    const r = await env.cri.call('ExecSync', { container_id: id, cmd: ['sh', '-c', 'echo out; echo err >&2; printf "no newline"; exit 3'], timeout: '30' });
    expect([r['stdout'].toString(), r['stderr'].toString(), r['exit_code']]).toEqual(['out\nno newline', 'err\n', 3]);

    const big = await env.cri.call('ExecSync', { container_id: id, cmd: ['seq', '1', '100000'], timeout: '60' });
    expect(big['stdout'].toString()).toBe(Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join(''));

    let err: unknown;
    try {
      await env.cri.call('ExecSync', { container_id: id, cmd: ['sh', '-c', 'echo started; exec sleep 737'], timeout: '2' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CriError);
    expect((err as CriError).details).toMatch(/timeout 2s exceeded/);
    // the exec'd process is gone: nothing in the container runs `sleep 737` any more
    const ps = await env.cri.call('ExecSync', { container_id: id, cmd: ['ps', '-o', 'args'], timeout: '30' });
    expect(ps['stdout'].toString()).not.toContain('sleep 737');
    expect((await env.cri.call('ContainerStatus', { container_id: id }))['status'].state).toBe('CONTAINER_RUNNING');
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  it('writes the CRI log file byte-exact: each line tagged stdout or stderr, long and unterminated lines as partial chunks', async () => {
    const pod = await env.runPod('logs', { handler: 'tsshim' });
    const script = [
      'seq 1 30000',
      'echo to stderr >&2',
      'head -c 40000 /dev/zero | tr "\\0" x; echo',
      'printf "half a line"; sleep 1; printf " and the rest\\n"',
      'printf "no newline at the end"',
    ].join('; ');
    const id = await env.startContainer(pod, 'app', ['sh', '-c', script]);
    const st = await env.waitContainer(id, 'CONTAINER_EXITED');
    expect(st.exit_code).toBe(0);
    const text = fs.readFileSync(env.logFile(pod, 'app'), 'utf8');
    const log = fromCriLog(text);
    const seq = Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join('');
    expect(log.stdout).toBe(`${seq}${'x'.repeat(40000)}\nhalf a line and the rest\nno newline at the end`);
    expect(log.stderr).toBe('to stderr\n');
    // the 40000-byte line is split at containerd's 16 KiB line limit; the unterminated end is partial
    expect(log.lines.filter((l) => l === 'stdout P').length).toBe(3);
    expect(log.lines.at(-1)).toBe('stdout P');
    expect(text.slice(-80)).toMatch(/Z stdout P no newline at the end\n$/);
    await env.removePod(pod);
  }, 180_000);

  it('ContainerStats and ListContainerStats report the cgroup numbers; UpdateContainerResources changes the memory limit in the cgroup; an OOM kill is OOMKilled', async () => {
    const pod = await env.runPod('stats', { handler: 'tsshim' });
    const busy = await env.startContainer(pod, 'busy', ['sh', '-c', 'head -c 200000000 /dev/urandom | md5sum; mkdir -p /dev/shm/f; head -c 8000000 /dev/zero > /dev/shm/f/x; sleep 1000'], {
      memoryLimitBytes: 256 << 20,
    });
    await env.waitContainer(busy, 'CONTAINER_RUNNING');
    let stats: Msg = {};
    for (let i = 0; i < 600; i++) {
      stats = (await env.cri.call('ContainerStats', { container_id: busy }))['stats'];
      if (BigInt(stats.memory?.working_set_bytes?.value ?? 0) > 8_000_000n && BigInt(stats.cpu?.usage_core_nano_seconds?.value ?? 0) > 100_000_000n) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(stats.attributes.id).toBe(busy);
    const cpu = BigInt(stats.cpu.usage_core_nano_seconds.value);
    const ws = BigInt(stats.memory.working_set_bytes.value);
    expect(cpu).toBeGreaterThan(100_000_000n);
    expect(ws).toBeGreaterThan(8_000_000n);
    // the same cgroup, read directly afterwards: CPU time only grows, and the working set (usage
    // minus inactive file pages) was part of a usage the cgroup's high-water mark has seen
    expect(BigInt(env.cgroupFile(pod, busy, 'cpuacct', 'cpuacct.usage'))).toBeGreaterThanOrEqual(cpu);
    expect(BigInt(env.cgroupFile(pod, busy, 'memory', 'memory.max_usage_in_bytes'))).toBeGreaterThanOrEqual(ws);
    const listed = (await env.cri.call('ListContainerStats', { filter: { pod_sandbox_id: pod.id } }))['stats'] as Msg[];
    expect(listed.map((s) => s.attributes.id)).toEqual([busy]);
    expect(BigInt(listed[0]!.cpu.usage_core_nano_seconds.value)).toBeGreaterThanOrEqual(cpu);

    expect(env.cgroupFile(pod, busy, 'memory', 'memory.limit_in_bytes')).toBe(String(256 << 20));
    await env.cri.call('UpdateContainerResources', {
      container_id: busy,
      linux: { cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512', memory_limit_in_bytes: String(64 << 20), oom_score_adj: '1000' },
    });
    expect(env.cgroupFile(pod, busy, 'memory', 'memory.limit_in_bytes')).toBe(String(64 << 20));
    expect(env.cgroupFile(pod, busy, 'cpu', 'cpu.cfs_quota_us')).toBe('50000');
    expect(env.cgroupFile(pod, busy, 'cpu', 'cpu.shares')).toBe('512');

    const hog = await env.startContainer(pod, 'hog', ['sh', '-c', 'tail /dev/zero'], { memoryLimitBytes: 32 << 20 });
    const oom = await env.waitContainer(hog, 'CONTAINER_EXITED', 120_000);
    expect([oom.exit_code, oom.reason]).toEqual([137, 'OOMKilled']);
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 240_000);

  it('a pod of three containers runs in one shim, the containers share the pod namespaces, and killing one leaves the others running', async () => {
    const shimsBefore = env.shimProcesses().length;
    const pod = await env.runPod('three', { handler: 'tsshim', pidMode: 'POD' });
    const ids = [];
    for (const name of ['a', 'b', 'c']) ids.push(await env.startContainer(pod, name, ['sleep', '1000']));
    for (const id of ids) await env.waitContainer(id, 'CONTAINER_RUNNING');
    expect(env.shimProcesses().length - shimsBefore).toBe(1);

    const sandbox = await sandboxPid(env, pod);
    const pids = await Promise.all(ids.map((id) => pidOf(env, id)));
    for (const pid of pids) {
      // the pod's IPC and PID namespaces (shareProcessNamespace), the node's network and UTS (hostNetwork), a mount namespace of its own
      expect(nsOf(pid, 'ipc')).toBe(nsOf(sandbox, 'ipc'));
      expect(nsOf(pid, 'pid')).toBe(nsOf(sandbox, 'pid'));
      expect(nsOf(pid, 'net')).toBe(nsOf('self', 'net'));
      expect(nsOf(pid, 'uts')).toBe(nsOf('self', 'uts'));
      expect(nsOf(pid, 'mnt')).not.toBe(nsOf(sandbox, 'mnt'));
    }
    // in one PID namespace, every container sees the others' processes
    const ps = await env.cri.call('ExecSync', { container_id: ids[0], cmd: ['ps', '-o', 'pid,args'], timeout: '30' });
    expect(ps['stdout'].toString().match(/sleep 1000/g)?.length).toBe(3);

    process.kill(pids[1]!, 'SIGKILL');
    const killed = await env.waitContainer(ids[1]!, 'CONTAINER_EXITED');
    expect([killed.exit_code, killed.reason]).toEqual([137, 'Error']);
    for (const id of [ids[0]!, ids[2]!]) expect((await env.cri.call('ContainerStatus', { container_id: id }))['status'].state).toBe('CONTAINER_RUNNING');
    expect((await env.cri.call('PodSandboxStatus', { pod_sandbox_id: pod.id }))['status'].state).toBe('SANDBOX_READY');
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  it('after a containerd restart the pod is READY and its container RUNNING, and both can be exec-ed, stopped and removed', async () => {
    const pod = await env.runPod('restart', { handler: 'tsshim' });
    const id = await env.startContainer(pod, 'app', ['sleep', '1000']);
    await env.waitContainer(id, 'CONTAINER_RUNNING');
    const pid = await pidOf(env, id);
    await env.restart();
    expect((await env.cri.call('PodSandboxStatus', { pod_sandbox_id: pod.id }))['status'].state).toBe('SANDBOX_READY');
    expect((await env.cri.call('ContainerStatus', { container_id: id }))['status'].state).toBe('CONTAINER_RUNNING');
    expect(await pidOf(env, id)).toBe(pid);
    const r = await env.cri.call('ExecSync', { container_id: id, cmd: ['echo', 'still here'], timeout: '30' });
    expect(r['stdout'].toString()).toBe('still here\n');
    await env.cri.call('StopContainer', { container_id: id, timeout: '2' });
    expect((await env.cri.call('ContainerStatus', { container_id: id }))['status'].exit_code).toBe(137);
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);
});
