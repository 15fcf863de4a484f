import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CgroupGoneError, readV1Metrics } from '../../../../src/sys/cgroups/index.js';
import { parseBlkioEntries } from '../../../../src/sys/cgroups/v1-stats.js';

// A fake v1 hierarchy laid out as on this project's hybrid hosts: one mount per controller.
function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

describe('cgroup v1 metrics', () => {
  let root: string;
  let controllers: Map<string, string>;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cg1-'));
    controllers = new Map(['cpu', 'cpuacct', 'memory', 'pids', 'blkio', 'hugetlb'].map((c) => [c, join(root, c, 'default', 'ctr')]));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads pids, cpuacct, cpu throttling, memory, oom_control, blkio and hugetlb as containerd does', async () => {
    writeTree(root, {
      'pids/default/ctr/pids.current': '2\n',
      'pids/default/ctr/pids.max': 'max\n',
      'cpuacct/default/ctr/cpuacct.usage': '123456789\n',
      'cpuacct/default/ctr/cpuacct.usage_percpu': '100000000 23456789 \n',
      'cpuacct/default/ctr/cpuacct.stat': 'user 7\nsystem 3\n',
      'cpu/default/ctr/cpu.stat': 'nr_periods 10\nnr_throttled 4\nthrottled_time 999\n',
      'memory/default/ctr/memory.stat': [
        'cache 4096', 'rss 8192', 'rss_huge 0', 'mapped_file 1024', 'dirty 1', 'writeback 2', 'pgpgin 30',
        'pgpgout 20', 'pgfault 50', 'pgmajfault 5', 'inactive_anon 11', 'active_anon 12', 'inactive_file 13',
        'active_file 14', 'unevictable 15', 'hierarchical_memory_limit 33554432',
        'hierarchical_memsw_limit 9223372036854771712', 'total_cache 40960', 'total_rss 81920',
        'total_pgpgin 300', 'total_pgmajfault 55', 'total_unevictable 150', '',
      ].join('\n'),
      'memory/default/ctr/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
      'memory/default/ctr/memory.usage_in_bytes': '12288\n',
      'memory/default/ctr/memory.max_usage_in_bytes': '65536\n',
      'memory/default/ctr/memory.failcnt': '9\n',
      'memory/default/ctr/memory.limit_in_bytes': '33554432\n',
      'memory/default/ctr/memory.kmem.usage_in_bytes': '512\n',
      'memory/default/ctr/memory.kmem.limit_in_bytes': '9223372036854771712\n',
      'memory/default/ctr/memory.kmem.tcp.usage_in_bytes': '0\n',
      'blkio/default/ctr/blkio.throttle.io_serviced': '8:0 Read 3\n8:0 Write 4\nTotal 7\n',
      'blkio/default/ctr/blkio.throttle.io_service_bytes': '8:0 Read 12288\n8:0 Write 16384\nTotal 28672\n',
      'hugetlb/default/ctr/hugetlb.2MB.usage_in_bytes': '2097152\n',
      'hugetlb/default/ctr/hugetlb.2MB.max_usage_in_bytes': '4194304\n',
      'hugetlb/default/ctr/hugetlb.2MB.failcnt': '1\n',
      'proc/partitions': 'major minor  #blocks  name\n\n   8        0   1048576 sda\n',
    });
    const m = await readV1Metrics(controllers, join(root, 'proc'));
    expect(m.pids).toEqual({ current: 2n, limit: 0n });
    expect(m.cpu).toEqual({
      usage: { total: 123456789n, user: 70_000_000n, kernel: 30_000_000n, perCpu: [100000000n, 23456789n] },
      throttling: { periods: 10n, throttledPeriods: 4n, throttledTime: 999n },
    });
    expect(m.memory).toMatchObject({
      cache: 4096n, rss: 8192n, mappedFile: 1024n, dirty: 1n, writeback: 2n, pgPgIn: 30n, pgPgOut: 20n,
      pgFault: 50n, pgMajFault: 5n, inactiveAnon: 11n, activeAnon: 12n, inactiveFile: 13n, activeFile: 14n,
      unevictable: 15n, hierarchicalMemoryLimit: 33554432n, hierarchicalSwapLimit: 9223372036854771712n,
      totalCache: 40960n, totalRss: 81920n, totalPgPgIn: 300n, totalPgMajFault: 55n, totalUnevictable: 150n,
      totalDirty: 0n,
      usage: { usage: 12288n, max: 65536n, failcnt: 9n, limit: 33554432n },
      // No swap accounting on this host: no memsw files, zeros as in the reference.
      swap: { usage: 0n, max: 0n, failcnt: 0n, limit: 0n },
      kernel: { usage: 512n, max: 0n, failcnt: 0n, limit: 9223372036854771712n },
      kernelTcp: { usage: 0n, max: 0n, failcnt: 0n, limit: 0n },
    });
    expect(m.memoryOomControl).toEqual({ oomKillDisable: 0n, underOom: 0n, oomKill: 1n });
    expect(m.blkio?.ioServicedRecursive).toEqual([
      { device: '/dev/sda', major: 8n, minor: 0n, op: 'Read', value: 3n },
      { device: '/dev/sda', major: 8n, minor: 0n, op: 'Write', value: 4n },
    ]);
    expect(m.blkio?.ioServiceBytesRecursive.map((e) => e.value)).toEqual([12288n, 16384n]);
    expect(m.blkio?.sectorsRecursive).toEqual([]);
    expect(m.hugetlb).toEqual([{ pagesize: '2MB', usage: 2097152n, max: 4194304n, failcnt: 1n }]);
  });

  it('leaves out the controllers whose directory is missing', async () => {
    writeTree(root, { 'pids/default/ctr/pids.current': '1\n', 'pids/default/ctr/pids.max': '100\n' });
    const m = await readV1Metrics(controllers, join(root, 'proc'));
    expect(m.pids).toEqual({ current: 1n, limit: 100n });
    expect(m.cpu).toBeUndefined();
    expect(m.memory).toBeUndefined();
    expect(m.hugetlb).toEqual([]);
  });

  it('a container whose cgroup directories are all gone is an error', async () => {
    await expect(readV1Metrics(controllers, join(root, 'proc'))).rejects.toBeInstanceOf(CgroupGoneError);
  });

  it('blkio lines without an operation (sectors, time) have an empty op; a bad line is an error', () => {
    expect(parseBlkioEntries('8:0 2048\n', 'blkio.sectors_recursive', new Map())).toEqual([
      { device: '', major: 8n, minor: 0n, op: '', value: 2048n },
    ]);
    expect(() => parseBlkioEntries('garbage\n', 'f', new Map())).toThrow(/unexpected line/);
  });
});
