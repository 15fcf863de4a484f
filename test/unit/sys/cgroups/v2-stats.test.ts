import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CgroupGoneError, MAX_U64, readV2Metrics } from '../../../../src/sys/cgroups/index.js';
import { parseIoStat, parsePsi } from '../../../../src/sys/cgroups/v2-stats.js';

const FIXTURE = join(__dirname, '../../../fixtures/cgroup2/ctr');

describe('cgroup v2 metrics', () => {
  it('reads cpu.stat, memory.*, pids.*, io.stat, hugetlb and memory.events as containerd does', async () => {
    const m = await readV2Metrics(FIXTURE);
    expect(m.pids).toEqual({ current: 3n, limit: MAX_U64 });
    expect(m.cpu).toMatchObject({
      usageUsec: 2345678n, userUsec: 1345678n, systemUsec: 1000000n, nrPeriods: 120n,
      nrThrottled: 7n, throttledUsec: 45000n, nrBursts: 2n, burstUsec: 300n,
    });
    expect(m.cpu.psi).toEqual({
      some: { avg10: 1.5, avg60: 0.75, avg300: 0.25, total: 123456n },
      full: { avg10: 0, avg60: 0, avg300: 0, total: 789n },
    });
    expect(m.memory).toMatchObject({
      anon: 4194304n, file: 8388608n, kernelStack: 65536n, slab: 786432n, shmem: 12288n,
      fileMapped: 2097152n, fileDirty: 4096n, inactiveAnon: 3145728n, activeAnon: 1048576n,
      inactiveFile: 6291456n, activeFile: 2097152n, slabReclaimable: 524288n, slabUnreclaimable: 262144n,
      pgfault: 54321n, pgmajfault: 12n, pgrefill: 5n, pgscan: 100n, pgsteal: 90n, pgactivate: 77n,
      pgdeactivate: 6n, thpFaultAlloc: 1n, workingsetRefaultFile: 11n, workingsetActivateFile: 3n,
      usage: 13631488n, usageLimit: 33554432n, maxUsage: 20971520n, swapUsage: 0n, swapLimit: MAX_U64,
      swapMaxUsage: 0n,
    });
    expect(m.memory.psi).toEqual({ some: { avg10: 0, avg60: 0, avg300: 0, total: 5000n }, full: { avg10: 0, avg60: 0, avg300: 0, total: 4000n } });
    // Keys the kernel has but the Metrics message does not (kernel, pagetables, …) are left out.
    expect(m.memory).not.toHaveProperty('pagetables');
    expect(m.memoryEvents).toEqual({ low: 0n, high: 0n, max: 42n, oom: 3n, oomKill: 2n, oomGroupKill: 0n });
    expect(m.io.usage).toEqual([
      { major: 8n, minor: 0n, rbytes: 1048576n, wbytes: 2097152n, rios: 10n, wios: 20n },
      { major: 253n, minor: 1n, rbytes: 4096n, wbytes: 0n, rios: 1n, wios: 0n },
    ]);
    expect(m.io.psi).toBeUndefined();
    expect(m.hugetlb).toEqual([
      { pagesize: '1GB', current: 2097152n, max: 1073741824n, failcnt: 0n },
      { pagesize: '2MB', current: 0n, max: MAX_U64, failcnt: 4n },
    ]);
  });

  it('a cgroup that is gone is an error, not a payload of zeros', async () => {
    await expect(readV2Metrics(join(FIXTURE, 'no-such-child'))).rejects.toBeInstanceOf(CgroupGoneError);
  });

  describe('with controllers missing', () => {
    let dir: string;
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('reads absent files as zero and leaves memory events out', async () => {
      dir = mkdtempSync(join(tmpdir(), 'cg2-'));
      cpSync(join(FIXTURE, 'cgroup.controllers'), join(dir, 'cgroup.controllers'));
      const m = await readV2Metrics(dir);
      expect(m.pids).toEqual({ current: 0n, limit: 0n });
      expect(m.memory.usage).toBe(0n);
      expect(m.cpu.usageUsec).toBe(0n);
      expect(m.memoryEvents).toBeUndefined();
      expect(m.io.usage).toEqual([]);
      expect(m.hugetlb).toEqual([]);
    });
  });

  it('rejects io.stat lines it cannot read instead of reporting wrong devices', () => {
    expect(() => parseIoStat('sda rbytes=1\n', 'io.stat')).toThrow(/unexpected line/);
    expect(parseIoStat('8:16 wios=4\n', 'io.stat')).toEqual([{ major: 8n, minor: 16n, rbytes: 0n, wbytes: 0n, rios: 0n, wios: 4n }]);
  });

  it('parses a pressure file with only a "some" line (cpu.pressure before Linux 5.13)', () => {
    expect(parsePsi('some avg10=0.10 avg60=0.20 avg300=0.30 total=9\n', 'cpu.pressure')).toEqual({
      some: { avg10: 0.1, avg60: 0.2, avg300: 0.3, total: 9n },
    });
  });
});
