import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Reaper, spawnChild, type ExitInfo } from '../../../src/sys/index.js';

const env = { PATH: '/usr/bin:/bin' };
const dir = mkdtempSync(join(tmpdir(), 'tsshim-spawn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readAll(s: Socket | undefined): Promise<string> {
  let text = '';
  s?.on('data', (b: Buffer) => (text += b.toString()));
  return new Promise((resolve) => (s ? s.once('close', () => resolve(text)) : resolve('')));
}

/** The child's /proc/self/status lines (SigIgn, SigBlk, …) as a record. */
function statusFields(text: string): Record<string, string> {
  return Object.fromEntries(text.trim().split('\n').map((l) => l.split(/:\s*/, 2) as [string, string]));
}

describe('spawnChild', () => {
  it('pipes stdin, stdout and stderr, runs in cwd and gives the exit code', async () => {
    const child = spawnChild('/bin/sh', ['-c', 'read line; echo "$line in $(pwd)"; echo err >&2; exit 3'], {
      cwd: '/usr', env, stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin!.end('hello\n');
    const [out, err, exit] = await Promise.all([readAll(child.stdout), readAll(child.stderr), child.exited]);
    expect({ out, err, exit }).toEqual({ out: 'hello in /usr\n', err: 'err\n', exit: { exitCode: 3, signal: null } });
    expect(child.reaped()).toBe(true);
    expect(existsSync(`/proc/${child.pid}`)).toBe(false);
  });

  it('hands an fd of ours over as it is, and makes an ignored one /dev/null', async () => {
    const file = join(dir, 'out');
    const fd = openSync(file, 'w');
    try {
      const child = spawnChild('/bin/sh', ['-c', 'readlink /proc/self/fd/0; echo to-file'], { env, stdio: ['ignore', fd, 'ignore'] });
      expect(await child.exited).toEqual({ exitCode: 0, signal: null });
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toBe('/dev/null\nto-file\n');
  });

  it('gives the child default signal dispositions and an empty mask (Node ignores SIGPIPE)', async () => {
    const child = spawnChild('/bin/grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const fields = statusFields(await readAll(child.stdout));
    expect(fields).toEqual({ SigBlk: '0000000000000000', SigIgn: '0000000000000000' });
  });

  it('reports the signal that ended the child', async () => {
    const child = spawnChild('/bin/sleep', ['60'], { env, stdio: ['ignore', 'ignore', 'ignore'] });
    process.kill(child.pid, 'SIGTERM');
    expect(await child.exited).toEqual({ exitCode: null, signal: 'SIGTERM' });
  });

  it("keeps the child's exit from the Reaper's 'exit' listeners, which are for orphans", async () => {
    const seen: ExitInfo[] = [];
    const onExit = (e: ExitInfo) => seen.push(e);
    Reaper.get().on('exit', onExit);
    try {
      const child = spawnChild('/bin/true', [], { env, stdio: ['ignore', 'ignore', 'ignore'] });
      await child.exited;
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.map((e) => e.pid)).not.toContain(child.pid);
    } finally {
      Reaper.get().off('exit', onExit);
    }
  });

  it('throws as child_process does for a program that cannot start, and leaves no zombie', () => {
    const before = readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8');
    expect(() => spawnChild('/nonexistent/runtime', [], { env, stdio: ['pipe', 'pipe', 'pipe'] })).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: 'spawn /nonexistent/runtime ENOENT', path: '/nonexistent/runtime' }),
    );
    expect(readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8')).toBe(before);
  });

  it('refuses a bare name rather than resolving it against the cwd', () => {
    expect(() => spawnChild('sh', [], { env, stdio: ['ignore', 'ignore', 'ignore'] })).toThrow(/needs a path/);
  });
});
