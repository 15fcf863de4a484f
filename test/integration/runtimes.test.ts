import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot, uniqueId } from './harness/index.js';
import { startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

/** crun 1.8 and older accept OCI spec versions 1.0.x and 1.1.x only. */
function crunRefusesSpec12(): boolean {
  const m = /crun version (\d+)\.(\d+)/.exec(execFileSync('crun', ['--version'], { encoding: 'utf8' }));
  return !!m && Number(m[1]) === 1 && Number(m[2]) <= 8;
}

// The runtime is chosen per container by the io.containerd.tsshim.runtime annotation, naming a
// [runtimes.X] table of the config file (see DEFAULT_CONFIG in tsshim-env.ts).
describe.skipIf(skipUnlessRoot())('runtimes selected by the config file', () => {
  let env: TsshimEnv;

  beforeAll(async () => {
    env = await startTsshimEnv();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it.each(['crun', 'runsc'])('%s runs a container: output and exit code come back', async (runtime) => {
    const id = uniqueId(runtime);
    const r = await env.run(id, ['sh', '-c', `echo hello from ${runtime}; echo oops >&2; exit 5`], {
      flags: ['--annotation', `io.containerd.tsshim.runtime=${runtime}`],
      timeoutMs: 120_000,
    });
    if (runtime === 'crun' && crunRefusesSpec12() && !env.c.version.startsWith('1.6.')) {
      // containerd 1.7.24 and 2.x write OCI spec version 1.2.x, which Debian 12's crun 1.8.1
      // refuses (it takes 1.0 and 1.1), whichever shim runs it. Its message must reach ctr.
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('unknown version specified');
      return;
    }
    expect(r.stderr).toBe('oops\n');
    expect(r.stdout.toString()).toBe(`hello from ${runtime}\n`);
    expect(r.code).toBe(5);
  });

  it.each(['crun', 'runsc'])('%s: exec exit codes and output, then kill ends the task with 137', async (runtime) => {
    const id = uniqueId(`${runtime}x`);
    const run = env.run(id, ['sleep', '1000'], { flags: ['--annotation', `io.containerd.tsshim.runtime=${runtime}`], timeoutMs: 120_000 });
    if (runtime === 'crun' && crunRefusesSpec12() && !env.c.version.startsWith('1.6.')) {
      // As above: this crun refuses the spec these containerd versions write, and says so.
      const refused = await run;
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('unknown version specified');
      return;
    }
    const end = Date.now() + 60_000;
    while (!/RUNNING/.test((await env.c.ctr(['task', 'ls'])).stdout.toString().split('\n').find((l) => l.startsWith(id)) ?? '')) {
      if (Date.now() > end) throw new Error(`${id} never became RUNNING`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const exec = await env.c.ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', `echo exec in ${runtime}; exit 7`], { timeoutMs: 60_000 });
    expect(exec.stdout.toString()).toBe(`exec in ${runtime}\n`);
    expect(exec.code).toBe(7);
    expect((await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id])).code).toBe(0);
    expect((await run).code).toBe(137);
  });

  it('an annotation naming no configured runtime fails the create with a message naming the known runtimes', async () => {
    const r = await env.run(uniqueId('bad'), ['true'], { flags: ['--annotation', 'io.containerd.tsshim.runtime=nosuch'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/io\.containerd\.tsshim\.runtime="nosuch" names no runtime of .*config\.toml \(known: runc, crun, runsc\)/);
  });
});
