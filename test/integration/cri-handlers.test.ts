// The docs' other handlers (Kata and Nabla, whose runtimes cannot run here: recording stand-ins
// answer as their command lines do), the pod_annotations handler, and bad input.
import { chmod, rename, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StandIn } from '../unit/runtime/stand-in.js';
import { skipUnlessRoot } from './harness/index.js';
import { CriError } from './cri-client.js';
import { startCriEnv, type CriEnv } from './cri-env.js';

/**
 * A recording stand-in (test/fixtures/runtimes) that also keeps a process for each created
 * container, as a real runtime would: after the fixture has answered `create`, a detached sleep
 * becomes the container's init (its pid replaces the fixture's own, which exits at once), and
 * `kill` signals it. Without one, the shim would wait for an exit that never comes.
 */
async function livingStandIn(fixture: string, name: string): Promise<StandIn> {
  const s = await StandIn.fixture(fixture, name);
  await rename(s.binary, `${s.binary}.recorded`);
  await writeFile(
    s.binary,
    `#!/bin/sh
"$0.recorded" "$@" || exit $?
cmd=""; pidfile=""; prev=""; last=""
for a in "$@"; do
  case "$a" in create|kill|delete) [ -z "$cmd" ] && cmd=$a ;; esac
  [ "$prev" = --pid-file ] && pidfile=$a
  prev=$a; last=$a
done
case "$cmd" in
  create) setsid sleep 100000 </dev/null >/dev/null 2>&1 & printf '%s' $! > "$pidfile" ;;
  kill) kill -"$last" "$(cat init.pid)" 2>/dev/null || true ;;
  delete) kill -9 "$(cat init.pid)" 2>/dev/null || true ;;
esac
exit 0
`,
  );
  await chmod(s.binary, 0o755);
  return s;
}

describe.skipIf(skipUnlessRoot())('CRI handlers for kata-runtime and runnc, pod_annotations, and bad input', () => {
  let env: CriEnv;
  let kata: StandIn;
  let runnc: StandIn;

  beforeAll(async () => {
    kata = await livingStandIn('kata-runtime-1.x', 'kata-runtime');
    runnc = await livingStandIn('runnc', 'runnc');
    env = await startCriEnv({
      pathPrepend: [kata.dir, runnc.dir],
      extraHandlers: {
        broken: 'default_runtime = "runc"\n[runtimes.runc]\nbinary = 42\n',
        missing: 'default_runtime = "ghost"\n[runtimes.ghost]\nbinary = "no-such-runtime"\n',
      },
    });
  }, 240_000);

  afterAll(async () => {
    await env?.stop();
    await kata?.remove();
    await runnc?.remove();
  }, 120_000);

  afterEach(async () => {
    await env?.removeAllPods();
  }, 120_000);

  /** The command lines a stand-in got for one task (sandbox or container), without the leading global flags. */
  async function commands(standIn: StandIn, id: string): Promise<string[]> {
    const bundle = `${env.c.dir}/state/io.containerd.runtime.v2.task/k8s.io/${id}`;
    const global = ['--root', `/run/containerd/${standIn === kata ? 'kata-runtime' : 'runnc'}/k8s.io`, '--log', `${bundle}/log.json`, '--log-format', 'json'];
    return (await standIn.invocations())
      .filter((i) => i.cwd === bundle && i.args[0] !== '--version')
      .map((i) => {
        expect(i.args.slice(0, global.length)).toEqual(global);
        return i.args.slice(global.length).join(' ').replaceAll(bundle, '<bundle>');
      });
  }

  it('the kata handler runs the sandbox and a container with kata-runtime 1.x and its config file', async () => {
    const pod = await env.runPod('kata', { handler: 'tsshim-kata' });
    const id = await env.startContainer(pod, 'app', ['sleep', '1000']);
    for (const task of [pod.id, id]) {
      expect(await commands(kata, task)).toEqual([
        `--kata-config=/etc/kata-containers/configuration.toml create --bundle <bundle> --pid-file <bundle>/init.pid ${task}`,
        `--kata-config=/etc/kata-containers/configuration.toml start ${task}`,
      ]);
    }
    // the version probe: once per shim, so once for the pod
    expect((await kata.invocations()).filter((i) => i.args[0] === '--version' && i.cwd.endsWith(pod.id)).length).toBe(1);
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  it('the nabla handler runs with runnc, and calls runnc lacks fail with Unimplemented and tsshim\'s message', async () => {
    const pod = await env.runPod('nabla', { handler: 'tsshim-nabla' });
    const id = await env.startContainer(pod, 'app', ['sleep', '1000']);
    for (const task of [pod.id, id]) {
      expect(await commands(runnc, task)).toEqual([`create --bundle <bundle> --pid-file <bundle>/init.pid ${task}`, `start ${task}`]);
    }
    // containerd 1.x appends errdefs' ": not implemented" to the shim's message; 2.x passes it on as it is
    const exec = await env.cri.failure('ExecSync', { container_id: id, cmd: ['true'], timeout: '30' });
    expect([exec.codeName, exec.details]).toEqual(['UNIMPLEMENTED', expect.stringMatching(/runnc does not support exec(: not implemented)?$/)]);
    const update = await env.cri.failure('UpdateContainerResources', { container_id: id, linux: { memory_limit_in_bytes: String(64 << 20) } });
    expect([update.codeName, update.details]).toEqual(['UNIMPLEMENTED', expect.stringMatching(/runnc does not support update(: not implemented)?$/)]);
    // nothing was run for either refused call
    expect((await commands(runnc, id)).length).toBe(2);
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  it('on the pod_annotations handler a pod picks its runtime by annotation, and gets the default without one', async () => {
    const onKata = await env.runPod('any-kata', { handler: 'tsshim-any', annotations: { 'io.containerd.tsshim.runtime': 'kata' } });
    expect(await commands(kata, onKata.id)).toEqual([
      `create --bundle <bundle> --pid-file <bundle>/init.pid ${onKata.id}`,
      `start ${onKata.id}`,
    ]);
    const onRunc = await env.runPod('any-runc', { handler: 'tsshim-any' });
    const id = await env.startContainer(onRunc, 'app', ['sleep', '1000']);
    await env.waitContainer(id, 'CONTAINER_RUNNING');
    const r = await env.cri.call('ExecSync', { container_id: id, cmd: ['echo', 'runc'], timeout: '30' });
    expect(r['stdout'].toString()).toBe('runc\n');
    expect(await commands(kata, onRunc.id)).toEqual([]);
    await env.removePod(onKata);
    await env.removePod(onRunc);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  it('bad input: an unknown handler, a broken tsshim file and a missing runtime binary fail RunPodSandbox precisely, leave nothing, and the next pod runs', async () => {
    const unknown = await env.cri.failure('RunPodSandbox', { config: (await podConfigFor('unknown')), runtime_handler: 'nosuch' });
    expect(unknown.details).toMatch(/no runtime for "nosuch" is configured/);

    const broken = await runPodFailure('broken');
    expect([broken.codeName, broken.details]).toEqual(['INVALID_ARGUMENT', expect.stringContaining('/etc/tsshim/broken.toml: runtimes.runc.binary: expected a string, got integer')]);
    expect(env.leftovers()).toEqual([]);

    const missing = await runPodFailure('missing');
    expect([missing.codeName, missing.details]).toEqual([
      'FAILED_PRECONDITION',
      expect.stringContaining('runtime binary "no-such-runtime" not found in PATH (runtimes.ghost.binary in /etc/tsshim/missing.toml)'),
    ]);
    expect(env.leftovers()).toEqual([]);
    expect((await env.cri.call('ListPodSandbox', {}))['items']).toEqual([]);

    const pod = await env.runPod('after', { handler: 'tsshim' });
    const id = await env.startContainer(pod, 'app', ['sleep', '1000']);
    expect((await env.waitContainer(id, 'CONTAINER_RUNNING')).state).toBe('CONTAINER_RUNNING');
    await env.removePod(pod);
    expect(env.leftovers()).toEqual([]);
  }, 180_000);

  async function runPodFailure(handler: string): Promise<CriError> {
    try {
      await env.runPod(handler, { handler });
    } catch (err) {
      if (err instanceof CriError) return err;
      throw err;
    }
    throw new Error(`RunPodSandbox on ${handler} succeeded`);
  }

  async function podConfigFor(name: string) {
    return { metadata: { name, uid: `${name}-uid`, namespace: 'default', attempt: 0 }, linux: { security_context: { namespace_options: { network: 'NODE' } } } };
  }
});
