import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectDir, skipUnlessRoot, uniqueId } from './harness/index.js';
import { startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

const LOGGER = resolve(projectDir(), 'test/fixtures/loggers/record-logger.sh');

function openedByThisProcess(): string[] {
  const targets: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      targets.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // The fd of the directory listing itself is gone already.
    }
  }
  return targets;
}

async function eventually(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what}: not reached in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skipUnlessRoot())('log drivers (--log-uri) through tsshim with real runc', () => {
  let env: TsshimEnv;
  let work: string;
  const out = randomBytes(3 << 20);
  const err = randomBytes(2 << 20);

  beforeAll(async () => {
    env = await startTsshimEnv();
    work = mkdtempSync(join(tmpdir(), 'tss-logs-'));
    mkdirSync(join(work, 'in'));
    writeFileSync(join(work, 'in', 'out'), out);
    writeFileSync(join(work, 'in', 'err'), err);
  });

  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await env?.stop();
  });

  const share = () => ['--mount', `type=bind,src=${work},dst=/share,options=rbind`];

  it('file:// receives every byte of stdout and stderr, in a directory the shim creates', async () => {
    const log = join(work, 'file-driver', 'sub', 'ctr.log');
    // stderr only once stdout is all in the file, so that the expected content is exact.
    const script = `cat /share/in/out; until [ "$(stat -c %s /share/file-driver/sub/ctr.log)" -ge ${out.length} ]; do sleep 0.05; done; cat /share/in/err >&2`;
    const r = await env.run(uniqueId('file'), ['sh', '-c', script], { flags: ['--log-uri', `file://${log}`, ...share()] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(readFileSync(log).equals(Buffer.concat([out, err]))).toBe(true);
  });

  it('binary:// runs the logger as specified and starts the container only once the logger is ready', async () => {
    const id = uniqueId('bin');
    const dir = join(work, id);
    mkdirSync(dir);
    const uri = `binary://${LOGGER}?dir=${encodeURIComponent(dir)}&mode=test`;
    const script = 'if [ -e /share/$0/ready ]; then echo logger-was-ready; fi; cat /share/in/out & cat /share/in/err >&2; wait';
    const r = await env.run(id, ['sh', '-c', script, id], { flags: ['--log-uri', uri, ...share()] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0);
    // The logger exits once it has read both streams to the end.
    await eventually(() => existsSync(join(dir, 'done')), 'logger finished');

    expect(readFileSync(join(dir, 'stdout')).equals(Buffer.concat([Buffer.from('logger-was-ready\n'), out]))).toBe(true);
    expect(readFileSync(join(dir, 'stderr')).equals(err)).toBe(true);

    expect(readFileSync(join(dir, 'argv'), 'utf8')).toBe(`${LOGGER}\ndir\n${dir}\nmode\ntest\n`);
    expect(readFileSync(join(dir, 'env'), 'utf8')).toBe(`CONTAINER_ID=${id}\nCONTAINER_NAMESPACE=${env.c.namespace}\n`);
    expect(readFileSync(join(dir, 'cwd'), 'utf8').trim()).toMatch(new RegExp(`/io\\.containerd\\.runtime\\.v2\\.task/${env.c.namespace}/${id}$`));
    const fds = Object.fromEntries(
      readFileSync(join(dir, 'fds'), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]),
    );
    expect(fds).toEqual({
      '0': '/dev/null', '1': '/dev/null', '2': '/dev/null',
      '3': expect.stringMatching(/^pipe:/), '4': expect.stringMatching(/^pipe:/), '5': expect.stringMatching(/^pipe:/),
    });
    // Nothing of the shim's leaks into the logger: beyond 0-5 only what the shell itself opened,
    // and what this test process inherited too (and so containerd and the shim).
    const others = readFileSync(join(dir, 'allfds'), 'utf8')
      .split('\n')
      .map((l) => /\s(\d+) -> (.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) > 5)
      .map((m) => m[2]);
    const allfds = readFileSync(join(dir, 'allfds'), 'utf8');
    const expected = [LOGGER, '/dev/null', join(dir, 'allfds'), ...openedByThisProcess()];
    for (const target of others) expect(expected, allfds).toContain(target);
  });

  it('a logger that cannot be started fails the task creation with its path, and leaves nothing running', async () => {
    const id = uniqueId('nolog');
    const r = await env.run(id, ['true'], { flags: ['--log-uri', 'binary:///no/such/logger'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\/no\/such\/logger/);
    expect((await env.c.ctr(['task', 'ls'])).stdout.toString()).not.toContain(id);
    await env.c.ctr(['container', 'delete', id]);
  });
});
