import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot, uniqueId } from './harness/index.js';
import { startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

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
    expect(r.stderr).toBe('oops\n');
    expect(r.stdout.toString()).toBe(`hello from ${runtime}\n`);
    expect(r.code).toBe(5);
  });

  it('an annotation naming no configured runtime fails the create with a message naming the known runtimes', async () => {
    const r = await env.run(uniqueId('bad'), ['true'], { flags: ['--annotation', 'io.containerd.tsshim.runtime=nosuch'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/io\.containerd\.tsshim\.runtime="nosuch" names no runtime of .*config\.toml \(known: runc, crun, runsc\)/);
  });
});
