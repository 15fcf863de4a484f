import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Reaper, type ExitInfo } from '../../../src/sys/index.js';
import { collectExits } from './exit-collector.js';

const execFileP = promisify(execFile);

// The shell forks a subshell that outlives it; with us as subreaper the subshell becomes our
// child. Its stdio goes elsewhere so that execFile resolves as soon as the shell exits.
async function spawnOrphan(command: string): Promise<number> {
  const { stdout } = await execFileP('sh', ['-c', `${command} </dev/null >/dev/null 2>&1 & echo $!`]);
  return Number(stdout.trim());
}

const exitingOrphan = (code: number, delay: string) => spawnOrphan(`(sleep ${delay}; exit ${code})`);

function ourChildren(): number[] {
  return readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}

describe('Reaper', () => {
  it('is one instance per process', () => {
    expect(Reaper.get()).toBe(Reaper.get());
  });

  it('reaps an orphan re-parented to us with its exit status, leaving no zombie', async () => {
    const reaper = Reaper.get();
    const sub = collectExits();
    const published: ExitInfo[] = [];
    const onExit = (e: ExitInfo) => published.push(e);
    reaper.on('exit', onExit);
    try {
      const pid = await exitingOrphan(7, '0.2');
      expect(ourChildren()).toContain(pid);
      const exit = await sub.waitFor(pid);
      expect(exit.pid).toBe(pid);
      expect(exit.status).toBe(7);
      expect(exit.exitedAt).toBeInstanceOf(Date);
      expect(published.map((e) => e.pid)).toContain(pid);
      expect(ourChildren()).not.toContain(pid);
      expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      reaper.off('exit', onExit);
      sub.close();
    }
  });

  it('reports an orphan killed by a signal as 128 + signal', async () => {
    const sub = collectExits();
    try {
      const pid = await spawnOrphan('sleep 30');
      const exit = sub.waitFor(pid);
      process.kill(pid, 'SIGTERM');
      expect((await exit).status).toBe(128 + 15);
    } finally {
      sub.close();
    }
  });

  it('does not steal the children Node spawned: 200 concurrent execFile calls resolve while orphans exit', async () => {
    const sub = collectExits();
    try {
      const orphans = Promise.all(Array.from({ length: 10 }, (_, i) => exitingOrphan(i + 1, `0.0${i}`)));
      const calls = Array.from({ length: 200 }, () => execFileP('true'));
      const results = await Promise.allSettled(calls);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const exits = await Promise.all((await orphans).map((pid) => sub.waitFor(pid)));
      expect(exits.map((e) => e.status)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      sub.close();
    }
  });
});
