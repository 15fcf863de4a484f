import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { CgroupGoneError, parseU64, readFlatKeyed, readOptional, readU64, type U64 } from './files.js';

// Field names follow io.containerd.cgroups.v1.Metrics (camelCase), so the task layer can encode
// these objects as they are.

export interface V1MemoryEntry { limit: U64; usage: U64; max: U64; failcnt: U64 }
export interface V1BlkIOEntry { op: string; device: string; major: U64; minor: U64; value: U64 }
export interface V1BlkIOStat {
  ioServiceBytesRecursive: V1BlkIOEntry[];
  ioServicedRecursive: V1BlkIOEntry[];
  ioQueuedRecursive: V1BlkIOEntry[];
  ioServiceTimeRecursive: V1BlkIOEntry[];
  ioWaitTimeRecursive: V1BlkIOEntry[];
  ioMergedRecursive: V1BlkIOEntry[];
  ioTimeRecursive: V1BlkIOEntry[];
  sectorsRecursive: V1BlkIOEntry[];
}

export interface V1Metrics {
  hugetlb: Array<{ usage: U64; max: U64; failcnt: U64; pagesize: string }>;
  pids?: { current: U64; limit: U64 };
  cpu?: {
    usage: { total: U64; kernel: U64; user: U64; perCpu: U64[] };
    throttling: { periods: U64; throttledPeriods: U64; throttledTime: U64 };
  };
  /** The memory.stat counters by field name, plus the usage, swap, kernel and kernelTcp entries. */
  memory?: Record<string, U64 | V1MemoryEntry>;
  memoryOomControl?: { oomKillDisable: U64; underOom: U64; oomKill: U64 };
  blkio?: V1BlkIOStat;
}

const exists = (p: string) => fsp.access(p).then(() => true, () => false);

/**
 * The v1 metrics of one container, from the controllers that have a directory for it.
 * Whatever a controller lacks (a file this kernel does not have, swap accounting off) stays at
 * its zero value, as containerd's cgroups library does with its IgnoreNotExist handler.
 */
export async function readV1Metrics(controllers: ReadonlyMap<string, string>, proc = '/proc'): Promise<V1Metrics> {
  const present = await Promise.all([...controllers.values()].map(exists));
  if (!present.some(Boolean)) throw new CgroupGoneError([...new Set(controllers.values())].join(', '));
  const dir = (name: string) => controllers.get(name);
  const [hugetlb, pids, cpu, mem, blkio] = await Promise.all([
    dir('hugetlb') ? readHugetlb(dir('hugetlb')!) : [],
    dir('pids') ? readPids(dir('pids')!) : undefined,
    dir('cpuacct') ? readCpu(dir('cpuacct')!, dir('cpu')) : undefined,
    dir('memory') ? readMemory(dir('memory')!) : undefined,
    dir('blkio') ? readBlkio(dir('blkio')!, proc) : undefined,
  ]);
  return { hugetlb, pids, cpu, memory: mem?.memory, memoryOomControl: mem?.oomControl, blkio };
}

async function readPids(dir: string): Promise<V1Metrics['pids']> {
  const current = await readU64(join(dir, 'pids.current'));
  if (current === undefined) return undefined;
  // v1 reports "no limit" as 0 (v2 as the largest uint64), like the reference.
  return { current, limit: (await readU64(join(dir, 'pids.max'), 0n)) ?? 0n };
}

// cpuacct.stat counts USER_HZ ticks; 100 on every Linux architecture containerd supports.
const NS_PER_TICK = 1_000_000_000n / 100n;

async function readCpu(acct: string, cpu: string | undefined): Promise<V1Metrics['cpu']> {
  const [total, perCpuText, stat, throttle] = await Promise.all([
    readU64(join(acct, 'cpuacct.usage')),
    readOptional(join(acct, 'cpuacct.usage_percpu')),
    readFlatKeyed(join(acct, 'cpuacct.stat')),
    cpu ? readFlatKeyed(join(cpu, 'cpu.stat')) : undefined,
  ]);
  if (total === undefined) return undefined;
  const perCpuPath = join(acct, 'cpuacct.usage_percpu');
  return {
    usage: {
      total,
      kernel: (stat?.get('system') ?? 0n) * NS_PER_TICK,
      user: (stat?.get('user') ?? 0n) * NS_PER_TICK,
      perCpu: (perCpuText ?? '').trim().split(/\s+/).filter(Boolean).map((v) => parseU64(v, perCpuPath)),
    },
    throttling: {
      periods: throttle?.get('nr_periods') ?? 0n,
      throttledPeriods: throttle?.get('nr_throttled') ?? 0n,
      throttledTime: throttle?.get('throttled_time') ?? 0n,
    },
  };
}

// memory.stat keys whose field name is not simply their camelCase.
const MEMORY_FIELD: Record<string, string> = {
  pgpgin: 'pgPgIn',
  pgpgout: 'pgPgOut',
  pgfault: 'pgFault',
  pgmajfault: 'pgMajFault',
  hierarchical_memsw_limit: 'hierarchicalSwapLimit',
};
const MEMORY_KEYS = [
  'cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault',
  'pgmajfault', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable',
];
const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const memoryField = (key: string) => MEMORY_FIELD[key] ?? camel(key);

async function readMemory(dir: string): Promise<{ memory: NonNullable<V1Metrics['memory']>; oomControl: V1Metrics['memoryOomControl'] } | undefined> {
  const entry = async (module: string): Promise<V1MemoryEntry> => {
    const file = (name: string) => join(dir, ['memory', module, name].filter(Boolean).join('.'));
    const [usage, max, failcnt, limit] = await Promise.all(
      ['usage_in_bytes', 'max_usage_in_bytes', 'failcnt', 'limit_in_bytes'].map((n) => readU64(file(n))),
    );
    return { usage: usage ?? 0n, max: max ?? 0n, failcnt: failcnt ?? 0n, limit: limit ?? 0n };
  };
  const [stat, oom, usage, swap, kernel, kernelTcp] = await Promise.all([
    readFlatKeyed(join(dir, 'memory.stat')),
    readFlatKeyed(join(dir, 'memory.oom_control')),
    entry(''), entry('memsw'), entry('kmem'), entry('kmem.tcp'),
  ]);
  if (!stat) return undefined;
  const memory: Record<string, U64> = {};
  for (const key of [...MEMORY_KEYS, 'hierarchical_memory_limit', 'hierarchical_memsw_limit']) {
    memory[memoryField(key)] = stat.get(key) ?? 0n;
  }
  for (const key of MEMORY_KEYS) {
    const field = memoryField(key);
    memory[`total${field[0]!.toUpperCase()}${field.slice(1)}`] = stat.get(`total_${key}`) ?? 0n;
  }
  return {
    memory: { ...memory, usage, swap, kernel, kernelTcp },
    oomControl: {
      oomKillDisable: oom?.get('oom_kill_disable') ?? 0n,
      underOom: oom?.get('under_oom') ?? 0n,
      oomKill: oom?.get('oom_kill') ?? 0n,
    },
  };
}

async function readHugetlb(dir: string): Promise<V1Metrics['hugetlb']> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const sizes = names.map((n) => /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(n)?.[1]).filter((s): s is string => !!s).sort();
  return Promise.all(sizes.map(async (pagesize) => {
    const [usage, max, failcnt] = await Promise.all(
      ['usage_in_bytes', 'max_usage_in_bytes', 'failcnt'].map((f) => readU64(join(dir, `hugetlb.${pagesize}.${f}`))),
    );
    return { usage: usage ?? 0n, max: max ?? 0n, failcnt: failcnt ?? 0n, pagesize };
  }));
}

const BLKIO_FILES: Array<[string, keyof V1BlkIOStat]> = [
  ['sectors_recursive', 'sectorsRecursive'],
  ['io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ['io_serviced_recursive', 'ioServicedRecursive'],
  ['io_queued_recursive', 'ioQueuedRecursive'],
  ['io_service_time_recursive', 'ioServiceTimeRecursive'],
  ['io_wait_time_recursive', 'ioWaitTimeRecursive'],
  ['io_merged_recursive', 'ioMergedRecursive'],
  ['time_recursive', 'ioTimeRecursive'],
];

// Without the CFQ/BFQ files (most kernels today) only the throttle counters exist; they fill
// the same two lists, as in the reference.
const BLKIO_THROTTLE_FILES: Array<[string, keyof V1BlkIOStat]> = [
  ['throttle.io_serviced', 'ioServicedRecursive'],
  ['throttle.io_service_bytes', 'ioServiceBytesRecursive'],
];

async function readBlkio(dir: string, proc: string): Promise<V1BlkIOStat | undefined> {
  if (!(await exists(dir))) return undefined;
  const stat: V1BlkIOStat = {
    ioServiceBytesRecursive: [], ioServicedRecursive: [], ioQueuedRecursive: [], ioServiceTimeRecursive: [],
    ioWaitTimeRecursive: [], ioMergedRecursive: [], ioTimeRecursive: [], sectorsRecursive: [],
  };
  const devices = parsePartitions((await readOptional(join(proc, 'partitions'))) ?? '');
  const cfq = await exists(join(dir, 'blkio.io_serviced_recursive'));
  for (const [file, field] of [...(cfq ? BLKIO_FILES : []), ...BLKIO_THROTTLE_FILES]) {
    const path = join(dir, `blkio.${file}`);
    stat[field].push(...parseBlkioEntries((await readOptional(path)) ?? '', path, devices));
  }
  return stat;
}

/** Device names by "major:minor", from /proc/partitions. */
function parsePartitions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4 && /^\d+$/.test(f[0]!) && /^\d+$/.test(f[1]!)) out.set(`${f[0]}:${f[1]}`, `/dev/${f[3]}`);
  }
  return out;
}

// Lines are "MAJ:MIN Op value" or "MAJ:MIN value"; a trailing "Total n" line is a sum.
export function parseBlkioEntries(text: string, path: string, devices: ReadonlyMap<string, string>): V1BlkIOEntry[] {
  const out: V1BlkIOEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/[\s:]+/).filter(Boolean);
    if (f.length === 0 || (f.length === 2 && f[0] === 'Total')) continue;
    if (f.length !== 3 && f.length !== 4) throw new Error(`unexpected line ${JSON.stringify(line)} in ${path}`);
    out.push({
      device: devices.get(`${f[0]}:${f[1]}`) ?? '',
      major: parseU64(f[0]!, path),
      minor: parseU64(f[1]!, path),
      op: f.length === 4 ? f[2]! : '',
      value: parseU64(f[f.length - 1]!, path),
    });
  }
  return out;
}
