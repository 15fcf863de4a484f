// The `startup_snapshot` config key: the packaged binary starts the daemon from the V8 start-up
// snapshot of its bundle, or from the bundle itself (the default); both serve alike.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot, uniqueId } from './harness/index.js';
import { DEFAULT_CONFIG, RUNTIME, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

describe.skipIf(skipUnlessRoot())('startup_snapshot', () => {
  let env: TsshimEnv;
  beforeAll(async () => {
    env = await startTsshimEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

  /** Runs a detached task, checks how its daemon was started and that it serves, and removes it. */
  async function daemonArgs(config: string): Promise<string[]> {
    writeFileSync(env.configPath, config);
    const id = uniqueId('snap');
    try {
      const run = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, 'sleep', '600']);
      expect(run.code, run.stderr.toString()).toBe(0);
      const pids = env.shimProcesses();
      expect(pids).toHaveLength(1);
      const args = cmdline(pids[0]!);
      const exec = await env.c.ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo from-exec; exit 3']);
      expect(exec.stdout.toString()).toBe('from-exec\n');
      expect(exec.code).toBe(3);
      return args;
    } finally {
      await env.c.ctr(['task', 'kill', '-s', 'KILL', id]);
      for (let i = 0; i < 50; i++) {
        const r = await env.c.ctr(['task', 'delete', id], { timeoutMs: 30_000 });
        if (r.code === 0 || /not found/.test(r.stderr.toString())) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      await env.c.ctr(['container', 'delete', id]);
    }
  }

  it('is off by default: the daemon runs the bundle', async () => {
    const args = await daemonArgs(DEFAULT_CONFIG);
    expect(args).not.toContain('--snapshot-blob');
    expect(args.find((a) => a.endsWith('/dist/shim.cjs'))).toBeDefined();
  });

  it('startup_snapshot = true starts the daemon from the snapshot, which serves as the bundle does', async () => {
    const args = await daemonArgs(`startup_snapshot = true # faster start, more memory\n${DEFAULT_CONFIG}`);
    const blob = args.indexOf('--snapshot-blob');
    expect(blob).toBeGreaterThan(0);
    expect(args[blob + 1]).toMatch(/\/dist\/shim\.snapshot$/);
    // The bundle's path still follows `--`, so the process reads its arguments as usual.
    expect(args[blob + 2]).toBe('--');
    expect(args[blob + 3]).toMatch(/\/dist\/shim\.cjs$/);
  });

  it('a value that is not a boolean is refused: Create reports the config problem', async () => {
    writeFileSync(env.configPath, `startup_snapshot = "yes"\n${DEFAULT_CONFIG}`);
    const r = await env.run(uniqueId('bad'), ['true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.toString()).toContain('startup_snapshot: expected a boolean, got string');
    writeFileSync(env.configPath, DEFAULT_CONFIG);
  });
});
