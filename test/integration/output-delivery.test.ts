// A process's exit is reported only once its output has been delivered (or the reader stalled
// past the bound): the containerd client closes its FIFOs as soon as it hears of the exit, so
// anything still in the shim or the FIFO then would be lost.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quote } from './ctr-terminal.js';
import { defaultContainerd, skipUnlessRoot, uniqueId, type CtrEvent } from './harness/index.js';
import { run } from './harness/run.js';
import { RUNTIME, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

/** `seq 1 n` as busybox prints it. */
function seqOutput(n: number): Buffer {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) lines.push(String(i));
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** 16 KiB every 10 ms: about 1.6 MB/s, slower than any container writes. */
const SLOW = { bytes: 16 << 10, everyMs: 10 };
const SLOW_LINES = 600_000;
/** seq 1 6388889 prints just over 50 MB. */
const BIG_LINES = 6_388_889;
const PARALLEL = 6;
const ROUNDS = 2;

interface ShimLine {
  msg: string;
  id?: string;
  process?: string;
  atRisk?: number;
}

function shimLines(env: TsshimEnv, msg: string): ShimLine[] {
  return env.c
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(msg))
    .map((l) => JSON.parse(l) as ShimLine)
    .filter((l) => l.msg === msg);
}

const GAVE_UP = 'output not delivered: the reader made no progress';

describe.skipIf(skipUnlessRoot())('output is delivered before the exit is reported', () => {
  let env: TsshimEnv;
  const slowExpected = seqOutput(SLOW_LINES);

  beforeAll(async () => {
    env = await startTsshimEnv();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('ctr run into a slow reader receives every byte, and the exit code', async () => {
    const id = uniqueId('slow-run');
    const r = await env.c.ctr(['run', '--rm', '--runtime', RUNTIME, env.image, id, 'sh', '-c', `seq 1 ${SLOW_LINES}; exit 3`], {
      slowReader: SLOW,
      timeoutMs: 180_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.length).toBe(slowExpected.length);
    expect(r.stdout.equals(slowExpected)).toBe(true);
    expect(r.code).toBe(3);
  }, 240_000);

  it('ctr task exec into a slow reader receives every byte, and the exit code', async () => {
    const id = uniqueId('slow-exec');
    expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, 'sleep', '1000'])).code).toBe(0);
    try {
      const r = await env.c.ctr(['task', 'exec', '--exec-id', 'seq', id, 'sh', '-c', `seq 1 ${SLOW_LINES}; exit 5`], {
        slowReader: SLOW,
        timeoutMs: 180_000,
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.length).toBe(slowExpected.length);
      expect(r.stdout.equals(slowExpected)).toBe(true);
      expect(r.code).toBe(5);
    } finally {
      await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await env.c.ctr(['task', 'delete', id], { timeoutMs: 60_000 });
      await env.c.ctr(['container', 'delete', id]);
    }
  }, 240_000);

  it('ctr run -t into a slow reader receives every byte through the terminal, and the exit code', async () => {
    const id = uniqueId('slow-tty');
    const next = join(dirname(defaultContainerd()), 'ctr');
    const ctr = [existsSync(next) ? next : 'ctr', '--address', env.c.address, '--namespace', env.c.namespace];
    const cmd = [...ctr, 'run', '--rm', '-t', '--runtime', RUNTIME, '--fifo-dir', join(env.c.dir, 'fifo'), env.image, id];
    // stty -onlcr: the container's terminal passes the output through unchanged.
    cmd.push('sh', '-c', `stty -onlcr; seq 1 ${SLOW_LINES}; exit 3`);
    // util-linux script gives ctr a terminal; we read script's copy of it slowly.
    const r = await run('script', ['-qfec', cmd.map(quote).join(' '), '/dev/null'], { slowReader: SLOW, timeoutMs: 180_000 });
    // ctr's own terminal turns \n into \r\n, and echoes the NUL ctr sends it at start as "^@";
    // everything the container wrote must follow, intact and complete.
    const text = r.stdout.toString('latin1').replace(/\r\n/g, '\n');
    const start = text.indexOf('1\n2\n3\n');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(text.slice(0, start)).toMatch(/^(\^@)?$/);
    expect(text.length - start).toBe(slowExpected.length);
    expect(text.slice(start) === slowExpected.toString('latin1')).toBe(true);
    expect(r.code).toBe(3);
  }, 240_000);

  it(`${PARALLEL} containers printing 50 MB each at once deliver every byte, ${ROUNDS} rounds`, async () => {
    const expected = seqOutput(BIG_LINES);
    for (let round = 0; round < ROUNDS; round++) {
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) =>
          env.run(uniqueId(`big${round}-${i}`), ['sh', '-c', `seq 1 ${BIG_LINES}; exit ${10 + i}`], { timeoutMs: 400_000 }),
        ),
      );
      results.forEach((r, i) => {
        expect(r.stderr).toBe('');
        expect(r.stdout.length).toBe(expected.length);
        expect(r.stdout.equals(expected)).toBe(true);
        expect(r.code).toBe(10 + i);
      });
    }
  }, 900_000);

  it('a detached task whose output nobody reads still reports its exit, and the shim logs the bytes at risk', async () => {
    const id = uniqueId('unread');
    // Small enough to fit in the FIFO, so the process exits. ctr -d leaves right after the
    // start, and the pause makes sure it is gone before the output is written: nobody reads it.
    const lines = 5000;
    const events = env.c.events();
    try {
      await events.ready;
      expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, 'sh', '-c', `sleep 2; seq 1 ${lines}; exit 4`])).code).toBe(0);
      const exit: CtrEvent = await events.waitFor((e) => e.topic === '/tasks/exit' && e.event.container_id === id, 120_000);
      expect(exit.event.exit_status).toBe(4);
      // The shim's log reaches containerd's on its own path: give it a moment.
      const end = Date.now() + 30_000;
      let risk = shimLines(env, GAVE_UP).filter((l) => l.id === id);
      while (risk.length === 0 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        risk = shimLines(env, GAVE_UP).filter((l) => l.id === id);
      }
      expect(risk).toHaveLength(1);
      expect(risk[0]!.atRisk).toBe(seqOutput(lines).length);
    } finally {
      await events.stop();
      await env.c.ctr(['task', 'delete', id], { timeoutMs: 60_000 });
      await env.c.ctr(['container', 'delete', id]);
    }
  }, 240_000);

  it("reports the init's exit although a background child was started on its stdout", async () => {
    // The child dies with the container's PID namespace (or the shim's kill --all), but only
    // after the init; an exit waiting for the pipe's end of file would wait on it.
    const id = uniqueId('bg-init');
    const r = await env.run(id, ['sh', '-c', 'sleep 600 & echo hi; exit 6'], { timeoutMs: 120_000 });
    expect(r.stdout.toString()).toBe('hi\n');
    expect(r.code).toBe(6);
  }, 180_000);

  it("reports an exec's exit while its background child still holds the exec's stdout", async () => {
    const id = uniqueId('bg-exec');
    expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, 'sleep', '1000'])).code).toBe(0);
    try {
      const r = await env.c.ctr(['task', 'exec', '--exec-id', 'bg', id, 'sh', '-c', 'sleep 600 & echo hi; exit 2'], { timeoutMs: 120_000 });
      expect(r.stdout.toString()).toBe('hi\n');
      expect(r.code).toBe(2);
      // Nothing was at risk: the pipe was empty and the FIFO taken, only not closed.
      expect(shimLines(env, GAVE_UP).filter((l) => l.id === id && l.process === 'bg')).toEqual([]);
    } finally {
      await env.c.ctr(['task', 'kill', '-a', '-s', 'SIGKILL', id]);
      await env.c.ctr(['task', 'delete', id], { timeoutMs: 60_000 });
      await env.c.ctr(['container', 'delete', id]);
    }
  }, 180_000);
});
