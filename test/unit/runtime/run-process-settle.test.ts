import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runProcess } from '../../../src/runtime/run-process.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsshim-run-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// What `runsc start` does with its stdio: hands it to a process that outlives it.
const HANDS_ON_STDIO = 'sleep 120 & echo $! > "$0"; exit 5';

async function killHolder(): Promise<void> {
  const pid = Number((await readFile(join(dir, 'holder'), 'utf8')).trim());
  process.kill(pid, 'SIGKILL');
}

it("settling on 'exit' answers when the program exits, though another process keeps our pipes open", async () => {
  try {
    const r = await runProcess('/bin/sh', ['-c', HANDS_ON_STDIO, join(dir, 'holder')], {
      env: process.env, stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 60_000, settleOn: 'exit',
    });
    expect(r).toMatchObject({ kind: 'exited', exitCode: 5 });
  } finally {
    await killHolder();
  }
});

it("settling on 'close' (the default) waits for the pipes, up to the deadline", async () => {
  try {
    const r = await runProcess('/bin/sh', ['-c', HANDS_ON_STDIO, join(dir, 'holder')], {
      env: process.env, stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 1_000,
    });
    expect(r.kind).toBe('timed-out');
  } finally {
    await killHolder();
  }
});
