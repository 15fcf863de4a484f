import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { CgroupGoneError, MAX_U64, parseU64, readFlatKeyed, readOptional, readU64, type U64 } from './files.js';

// Field names follow io.containerd.cgroups.v2.Metrics (camelCase), so the task layer can encode
// these objects as they are.

export interface PsiData { avg10: number; avg60: number; avg300: number; total: U64 }
export interface PsiStats { some?: PsiData; full?: PsiData }

export interface V2Metrics {
  pids: { current: U64; limit: U64 };
  /** Counters by field name, and `psi`. */
  cpu: Record<string, U64 | PsiStats | undefined>;
  memory: Record<string, U64 | PsiStats | undefined>;
  memoryEvents?: { low: U64; high: U64; max: U64; oom: U64; oomKill: U64; oomGroupKill: U64 };
  io: { usage: Array<{ major: U64; minor: U64; rbytes: U64; wbytes: U64; rios: U64; wios: U64 }>; psi?: PsiStats };
  hugetlb: Array<{ current: U64; max: U64; pagesize: string; failcnt: U64 }>;
}

const CPU_KEYS = ['usage_usec', 'user_usec', 'system_usec', 'nr_periods', 'nr_throttled', 'throttled_usec', 'nr_bursts', 'burst_usec'];
const MEMORY_KEYS = [
  'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback',
  'anon_thp', 'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable',
  'slab_reclaimable', 'slab_unreclaimable', 'pgfault', 'pgmajfault', 'workingset_refault',
  'workingset_activate', 'workingset_nodereclaim', 'pgrefill', 'pgscan', 'pgsteal', 'pgactivate',
  'pgdeactivate', 'pglazyfree', 'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc',
  'workingset_refault_anon', 'workingset_refault_file', 'workingset_activate_anon', 'workingset_activate_file',
];
const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function pick(keys: string[], from: ReadonlyMap<string, U64> | undefined): Record<string, U64> {
  const out: Record<string, U64> = {};
  for (const k of keys) out[camel(k)] = from?.get(k) ?? 0n;
  return out;
}

/**
 * The v2 metrics of the cgroup at `dir`, as containerd's cgroup2 manager reports them: absent
 * files read as 0, "max" as the largest uint64. A cgroup that no longer exists is an error.
 */
export async function readV2Metrics(dir: string): Promise<V2Metrics> {
  if ((await readOptional(join(dir, 'cgroup.controllers'))) === undefined) throw new CgroupGoneError(dir);
  const f = (name: string) => join(dir, name);
  const [cpuStat, memStat, events, ioStat, cpuPsi, memPsi, ioPsi, hugetlb] = await Promise.all([
    readFlatKeyed(f('cpu.stat')),
    readFlatKeyed(f('memory.stat')),
    readFlatKeyed(f('memory.events')),
    readOptional(f('io.stat')),
    readPsi(f('cpu.pressure')),
    readPsi(f('memory.pressure')),
    readPsi(f('io.pressure')),
    readHugetlb(dir),
  ]);
  const u = (name: string) => readU64(f(name), MAX_U64).then((v) => v ?? 0n);
  const [pidsCurrent, pidsMax, usage, usageLimit, maxUsage, swapUsage, swapLimit, swapMaxUsage] = await Promise.all([
    u('pids.current'), u('pids.max'), u('memory.current'), u('memory.max'),
    u('memory.peak'), u('memory.swap.current'), u('memory.swap.max'), u('memory.swap.peak'),
  ]);
  return {
    pids: { current: pidsCurrent, limit: pidsMax },
    cpu: { ...pick(CPU_KEYS, cpuStat), psi: cpuPsi },
    memory: { ...pick(MEMORY_KEYS, memStat), usage, usageLimit, maxUsage, swapUsage, swapLimit, swapMaxUsage, psi: memPsi },
    memoryEvents: events && {
      low: events.get('low') ?? 0n,
      high: events.get('high') ?? 0n,
      max: events.get('max') ?? 0n,
      oom: events.get('oom') ?? 0n,
      oomKill: events.get('oom_kill') ?? 0n,
      oomGroupKill: events.get('oom_group_kill') ?? 0n,
    },
    io: { usage: parseIoStat(ioStat ?? '', f('io.stat')), psi: ioPsi },
    hugetlb,
  };
}

/** io.stat: "MAJ:MIN rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…" per device. */
export function parseIoStat(text: string, path: string): V2Metrics['io']['usage'] {
  const out: V2Metrics['io']['usage'] = [];
  for (const line of text.split('\n')) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    if (!dev) continue;
    const m = /^(\d+):(\d+)$/.exec(dev);
    if (!m) throw new Error(`unexpected line ${JSON.stringify(line)} in ${path}`);
    const kv = new Map(pairs.map((p) => p.split('=') as [string, string]));
    const n = (k: string) => (kv.has(k) ? parseU64(kv.get(k)!, path) : 0n);
    out.push({ major: BigInt(m[1]!), minor: BigInt(m[2]!), rbytes: n('rbytes'), wbytes: n('wbytes'), rios: n('rios'), wios: n('wios') });
  }
  return out;
}

/** Pressure stall files: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" (and "full …"). */
export function parsePsi(text: string, path: string): PsiStats {
  const out: PsiStats = {};
  for (const line of text.split('\n')) {
    const [kind, ...pairs] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const kv = new Map(pairs.map((p) => p.split('=') as [string, string]));
    out[kind] = {
      avg10: Number(kv.get('avg10') ?? 0),
      avg60: Number(kv.get('avg60') ?? 0),
      avg300: Number(kv.get('avg300') ?? 0),
      total: parseU64(kv.get('total') ?? '0', path),
    };
  }
  return out;
}

async function readPsi(path: string): Promise<PsiStats | undefined> {
  const text = await readOptional(path);
  return text === undefined ? undefined : parsePsi(text, path);
}

async function readHugetlb(dir: string): Promise<V2Metrics['hugetlb']> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const sizes = names.map((n) => /^hugetlb\.([^.]+)\.current$/.exec(n)?.[1]).filter((s): s is string => !!s).sort();
  return Promise.all(sizes.map(async (pagesize) => {
    const [current, max, events] = await Promise.all([
      readU64(join(dir, `hugetlb.${pagesize}.current`), MAX_U64),
      readU64(join(dir, `hugetlb.${pagesize}.max`), MAX_U64),
      readFlatKeyed(join(dir, `hugetlb.${pagesize}.events`)),
    ]);
    return { current: current ?? 0n, max: max ?? 0n, pagesize, failcnt: events?.get('max') ?? 0n };
  }));
}
