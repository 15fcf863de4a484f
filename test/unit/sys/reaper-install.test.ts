import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Reaper } from '../../../src/sys/index.js';

function isZombie(pid: number): boolean {
  return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

// Runs in its own test file, hence its own process: the reaper must not be installed yet.
describe('installing the Reaper', () => {
  it('leaves a child that child_process spawned before the install to child_process', async () => {
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('tsshim.sys.Reaper')]).toBeUndefined();
    const child = spawn('sh', ['-c', 'exit 3'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Hold the event loop until the child is a zombie libuv has not reaped yet, then install:
    // the install-time scan sees an exited child that is not ours to wait for.
    const tick = new Int32Array(new SharedArrayBuffer(4));
    while (!isZombie(child.pid!)) Atomics.wait(tick, 0, 0, 5);
    const published: number[] = [];
    Reaper.get().on('exit', (e) => published.push(e.pid));
    expect(await exited).toBe(3);
    expect(published).not.toContain(child.pid);
  });
});
