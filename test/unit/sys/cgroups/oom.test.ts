import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchOom, type OomWatch } from '../../../../src/sys/cgroups/index.js';
import { eventfd, watchEventfd } from '../../../../src/sys/index.js';

const FIXTURE = join(__dirname, '../../../fixtures/cgroup2/ctr');
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

async function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watchEventfd', () => {
  it('reports each signal on the loop with the counter, drains synchronously, and closes the fd', async () => {
    const fd = eventfd();
    const counts: number[] = [];
    const w = watchEventfd(fd, (n) => counts.push(n), (err) => { throw err; });
    writeSync(fd, u64(2n));
    await until(() => counts.length === 1);
    expect(counts).toEqual([2]);

    writeSync(fd, u64(5n));
    expect(w.drain()).toBe(5);
    expect(w.drain()).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(counts).toEqual([2]);

    w.close();
    w.close();
    await until(() => {
      try {
        fstatSync(fd);
        return false;
      } catch {
        return true;
      }
    });
  });

  it('can be closed from inside its own callback', async () => {
    const fd = eventfd();
    let calls = 0;
    const w = watchEventfd(fd, () => {
      calls++;
      w.close();
    }, (err) => { throw err; });
    writeSync(fd, u64(1n));
    await until(() => calls === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
    expect(w.drain()).toBe(0);
  });

  it('does not keep the process alive', () => {
    const addon = join(__dirname, '../../../../build/Release/tsshim_native.node');
    const script = `const n = require(${JSON.stringify(addon)}); n.watchEventfd(n.eventfd(), () => {});`;
    const r = spawnSync(process.execPath, ['-e', script], { timeout: 10_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
  });
});

describe('OOM watch, cgroup v1 (eventfd through cgroup.event_control)', () => {
  let dir: string;
  let watch: OomWatch | undefined;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'cg1oom-')), 'memory', 'ctr');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
    writeFileSync(join(dir, 'cgroup.event_control'), '');
  });
  afterEach(() => {
    watch?.close();
    rmSync(join(dir, '../..'), { recursive: true, force: true });
  });

  // The registration names the eventfd; the kernel would signal it, the test does.
  const registeredEventfd = () => Number(readFileSync(join(dir, 'cgroup.event_control'), 'utf8').split(' ')[0]);

  it('registers "<eventfd> <oom_control fd>" and reports each notification while the cgroup exists', async () => {
    const onOom = vi.fn();
    watch = watchOom({ version: 1, controllers: new Map([['memory', dir]]) }, { onOom, onError: (e) => { throw e; } });
    expect(readFileSync(join(dir, 'cgroup.event_control'), 'utf8')).toMatch(/^\d+ \d+$/);
    writeSync(registeredEventfd(), u64(1n));
    await until(() => onOom.mock.calls.length === 1);
  });

  it('settled() reports a notification the loop has not delivered yet, before it resolves', async () => {
    const order: string[] = [];
    watch = watchOom({ version: 1, controllers: new Map([['memory', dir]]) }, { onOom: () => order.push('oom'), onError: (e) => { throw e; } });
    writeSync(registeredEventfd(), u64(1n));
    await watch!.settled();
    order.push('exit');
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual(['oom', 'exit']);
  });

  it('ignores the notification the kernel sends when the cgroup is removed', async () => {
    const onOom = vi.fn();
    watch = watchOom({ version: 1, controllers: new Map([['memory', dir]]) }, { onOom, onError: (e) => { throw e; } });
    const efd = registeredEventfd();
    rmSync(dir, { recursive: true });
    writeSync(efd, u64(1n));
    await watch!.settled();
    await new Promise((r) => setTimeout(r, 50));
    await watch!.settled();
    expect(onOom).not.toHaveBeenCalled();
  });

  it('there is nothing to watch without a memory controller', async () => {
    expect(watchOom({ version: 1, controllers: new Map([['pids', dir]]) }, { onOom: () => undefined, onError: () => undefined })).toBeUndefined();
  });
});

describe('OOM watch, cgroup v2 (memory.events)', () => {
  let dir: string;
  let watch: OomWatch | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cg2oom-'));
    cpSync(FIXTURE, dir, { recursive: true });
  });
  afterEach(() => {
    watch?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const events = (oom: number, oomKill: number) =>
    writeFileSync(join(dir, 'memory.events'), `low 0\nhigh 0\nmax 50\noom ${oom}\noom_kill ${oomKill}\noom_group_kill 0\n`);

  it('reports a rise of oom_kill (not of oom) once, counting from when the watch was armed', async () => {
    const onOom = vi.fn();
    // The fixture already records 2 kills: those happened before this container's watch.
    watch = watchOom({ version: 2, path: dir }, { onOom, onError: (e) => { throw e; } });
    events(4, 2);
    await watch!.settled();
    expect(onOom).not.toHaveBeenCalled();
    events(5, 3);
    await until(() => onOom.mock.calls.length === 1);
    appendFileSync(join(dir, 'memory.events'), '');
    await new Promise((r) => setTimeout(r, 50));
    await watch!.settled();
    expect(onOom).toHaveBeenCalledTimes(1);
  });

  it('settled() reads memory.events itself, so an OOM kill is reported before it resolves', async () => {
    const order: string[] = [];
    watch = watchOom({ version: 2, path: dir }, { onOom: () => order.push('oom'), onError: (e) => { throw e; } });
    events(3, 3);
    await watch!.settled();
    order.push('exit');
    expect(order).toEqual(['oom', 'exit']);
  });
});
