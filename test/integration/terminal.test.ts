import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot, uniqueId } from './harness/index.js';
import { ctrOnTerminal, quote } from './ctr-terminal.js';
import { RUNTIME, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** Line ends as the container wrote them; the terminals on the way add carriage returns. */
const lines = (output: string) => output.replace(/\r+\n/g, '\n');

// Inside the container: waits until the terminal has a size (ctr sends it just after Start;
// busybox stty prints nothing for a 0x0 terminal) and prints it. PRINT_NEXT_SIZE then tells the test, by
// a file in a shared directory, to resize ctr's terminal, and prints the size it changes to once both
// rows and columns have changed: `stty rows R cols C` sets them one ioctl at a time, and the size in
// between can reach the container too.
const PRINT_SIZE = 'until first=$(stty size 2>/dev/null); [ -n "$first" ] && [ "$first" != "0 0" ]; do sleep 0.05; done; echo "size $first"';
const PRINT_NEXT_SIZE =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  'touch /share/seen; until next=$(stty size 2>/dev/null); [ -n "$next" ] && [ "${next% *}" != "${first% *}" ] && [ "${next#* }" != "${first#* }" ]; do sleep 0.05; done; echo "size $next"';

describe.skipIf(skipUnlessRoot())('terminals through tsshim with real runc', () => {
  let env: TsshimEnv;
  let share: string;

  beforeAll(async () => {
    env = await startTsshimEnv();
    share = mkdtempSync(join(tmpdir(), 'tss-tty-'));
  });

  afterAll(async () => {
    rmSync(share, { recursive: true, force: true });
    await env?.stop();
  });

  it('`ctr run -t`: the container has a tty of the size of ctr\'s terminal, follows SIGWINCH, and its exit code comes back', async () => {
    const id = uniqueId('tty');
    rmSync(join(share, 'seen'), { force: true });
    const run = ctrOnTerminal(
      env,
      ['run', '--rm', '-t', '--runtime', RUNTIME, '--mount', `type=bind,src=${share},dst=/share,options=rbind`,
        env.image, id, 'sh', '-c', `tty; ${PRINT_SIZE}; ${PRINT_NEXT_SIZE}; exit 5`],
      { rows: 50, cols: 132, whileRunning: `until [ -e ${quote(join(share, 'seen'))} ]; do sleep 0.05; done; stty rows 60 cols 100` },
    );
    const { code, output } = await run.done;
    expect(lines(output)).toMatch(/^\/dev\/pts\/\d+\nsize 50 132\nsize 60 100\n$/);
    expect(code).toBe(5);
  });

  it('`ctr task exec -t` gets its own tty of the right size', async () => {
    const id = uniqueId('exectty');
    const run = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, 'sleep', '1000']);
    expect(run.code).toBe(0);
    try {
      const exec = ctrOnTerminal(env, ['task', 'exec', '-t', '--exec-id', 'e1', id, 'sh', '-c', `tty; ${PRINT_SIZE}; exit 3`], { rows: 50, cols: 132 });
      const { code, output } = await exec.done;
      expect(lines(output)).toMatch(/^\/dev\/pts\/\d+\nsize 50 132\n$/);
      expect(code).toBe(3);
    } finally {
      await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await env.c.ctr(['task', 'delete', '--force', id]);
      await env.c.ctr(['container', 'delete', id]);
    }
  });

  it('10 MB of output through the tty arrives intact', async () => {
    // base64 without line breaks: nothing the line discipline would rewrite.
    const script = 'head -c 7864320 /dev/urandom | base64 | tr -d "\\n" > /tmp/d; cat /tmp/d; echo; sha256sum /tmp/d';
    const run = ctrOnTerminal(env, ['run', '--rm', '-t', '--runtime', RUNTIME, env.image, uniqueId('ttyout'), 'sh', '-c', script], {
      rows: 24, cols: 80, timeoutMs: 120_000,
    });
    const { code, output } = await run.done;
    expect(code).toBe(0);
    // Split by hand: a regular expression over 10 MB would backtrack for hours.
    const tail = /\r+\n([0-9a-f]{64}) {2}\/tmp\/d\r+\n$/.exec(output.slice(-100));
    expect(tail, output.slice(-300)).not.toBeNull();
    const data = output.slice(0, output.length - 100 + tail!.index);
    expect(data.length).toBe(10 * 1024 * 1024);
    expect(sha256(data)).toBe(tail![1]);
  }, 150_000);

  it('10 MB of input through the tty reaches the container intact', async () => {
    const input = randomBytes(7864320).toString('base64');
    const run = ctrOnTerminal(
      env,
      ['run', '--rm', '-t', '--runtime', RUNTIME, env.image, uniqueId('ttyin'), 'sh', '-c',
        `stty raw -echo; echo READY; head -c ${input.length} | sha256sum`],
      { rows: 24, cols: 80, timeoutMs: 120_000 },
    );
    // Before `stty raw` the terminal is line-buffered and would drop a 10 MB line.
    await run.waitForOutput(/READY/);
    run.stdin.write(input);
    const { code, output } = await run.done;
    expect(code).toBe(0);
    expect(output).toContain(`${sha256(input)}  -`);
  }, 150_000);

  it('a container that never reads its tty does not stall the shim: its other tasks still answer', async () => {
    // One shim for all three tasks, so a stalled event loop would show.
    const group = ['--annotation', `io.containerd.runc.v2.group=${uniqueId('grp')}`];
    const stuck = uniqueId('noread');
    const other = uniqueId('other');
    const run = ctrOnTerminal(
      env,
      ['run', '--rm', '-t', '--runtime', RUNTIME, ...group, env.image, stuck, 'sh', '-c', 'stty raw -echo; echo READY; exec sleep 1000'],
      { rows: 24, cols: 80, timeoutMs: 120_000 },
    );
    try {
      await run.waitForOutput(/READY/);
      expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, ...group, env.image, other, 'sleep', '1000'])).code).toBe(0);
      expect(env.shimProcesses()).toHaveLength(1);

      const chunk = Buffer.alloc(1 << 20, 'y');
      for (let i = 0; i < 32; i++) run.stdin.write(chunk);

      const ls = (await env.c.ctr(['task', 'ls'])).stdout.toString();
      expect(ls).toMatch(new RegExp(`^${stuck}\\s+\\d+\\s+RUNNING`, 'm'));
      expect(ls).toMatch(new RegExp(`^${other}\\s+\\d+\\s+RUNNING`, 'm'));
      const exec = await env.c.ctr(['task', 'exec', '--exec-id', 'alive', other, 'echo', 'alive']);
      expect(exec.stdout.toString()).toBe('alive\n');
      const third = await env.run(uniqueId('third'), ['echo', 'hi'], { flags: group });
      expect(third.stdout.toString()).toBe('hi\n');
      expect(third.code).toBe(0);
    } finally {
      await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', stuck]);
      await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', other]);
    }
    expect((await run.done).code).toBe(137);
    await env.c.ctr(['task', 'delete', other]);
    await env.c.ctr(['container', 'delete', other]);
  }, 150_000);
});
