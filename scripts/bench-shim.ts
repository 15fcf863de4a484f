// Benchmark: tsshim against the Go reference shim (containerd-shim-runc-v2) on the same private
// containerd, interleaved A/B so that machine drift hits both equally. Reports medians and ratios.
//   npm run bench:shim -- [--rounds N] [--containers K]
// Needs root, containerd, runc and a built tsshim (npm run build).
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { busyboxImage, packagedShimDir, startContainerd, uniqueId, type Containerd } from '../test/integration/harness/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = opt('rounds', 15);
const CONTAINERS = opt('containers', 5);

const SHIMS = [
  { label: 'tsshim', runtime: 'io.containerd.tsshim.v2', match: 'shim.cjs' },
  { label: 'go runc shim', runtime: 'io.containerd.runc.v2', match: 'containerd-shim-runc-v2' },
] as const;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 1) => x.toFixed(d);

function shimPids(c: Containerd, match: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes(match) && cmd.includes(c.address)) pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** RSS and PSS in MiB from smaps_rollup. */
function memory(pid: number): { rss: number; pss: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss') / 1024, pss: kb('Pss') / 1024 };
}

async function timedRun(c: Containerd, image: string, runtime: string): Promise<number> {
  const t0 = performance.now();
  const r = await c.ctr(['run', '--rm', '--runtime', runtime, image, uniqueId('bench'), '/bin/true']);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${runtime}: ctr run failed (${r.code}): ${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const c = await startContainerd({ pathPrepend: [packagedShimDir()] });
  try {
    const image = await busyboxImage(c);
    // Warm-up: page cache, the shim's compile cache, runc's first run.
    for (const s of SHIMS) await timedRun(c, image, s.runtime);

    const times: Record<string, number[]> = { tsshim: [], 'go runc shim': [] };
    const ratios: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const a = await timedRun(c, image, SHIMS[0].runtime);
      const b = await timedRun(c, image, SHIMS[1].runtime);
      times.tsshim!.push(a);
      times['go runc shim']!.push(b);
      ratios.push(a / b);
    }

    const mem: Record<string, Array<{ rss: number; pss: number }>> = {};
    const ids: string[] = [];
    for (const s of SHIMS) {
      for (let i = 0; i < CONTAINERS; i++) {
        const id = uniqueId('mem');
        ids.push(id);
        const r = await c.ctr(['run', '-d', '--runtime', s.runtime, image, id, 'sleep', '1000']);
        if (r.code !== 0) throw new Error(`${s.runtime}: ${r.stderr}`);
      }
    }
    await new Promise((r) => setTimeout(r, 2_000));
    for (const s of SHIMS) mem[s.label] = shimPids(c, s.match).map(memory);
    const soloShims = new Set(shimPids(c, SHIMS[0].match));

    // The same number of containers in one group: one tsshim process serves them all.
    for (let i = 0; i < CONTAINERS; i++) {
      const id = uniqueId('grp');
      ids.push(id);
      const r = await c.ctr(['run', '-d', '--runtime', SHIMS[0].runtime, '--annotation', 'io.containerd.tsshim.v2.group=bench', image, id, 'sleep', '1000']);
      if (r.code !== 0) throw new Error(`grouped: ${r.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 2_000));
    const grouped = shimPids(c, SHIMS[0].match).filter((pid) => !soloShims.has(pid)).map(memory);
    if (grouped.length !== 1) throw new Error(`expected one grouped tsshim process, found ${grouped.length}`);
    for (const id of ids) {
      await c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    for (const id of ids) {
      await c.ctr(['task', 'delete', id]);
      await c.ctr(['container', 'delete', id]);
    }

    const out: string[] = [];
    out.push(`containerd ${c.version}, ${ROUNDS} interleaved rounds of \`ctr run --rm <busybox> /bin/true\`, ${CONTAINERS} idle containers per shim for memory`);
    out.push('');
    out.push('| figure | tsshim | Go runc shim | ratio tsshim/Go |');
    out.push('| --- | --- | --- | --- |');
    const ta = times.tsshim!, tb = times['go runc shim']!;
    out.push(`| \`ctr run --rm\` latency, median (min–max) ms | ${fmt(median(ta))} (${fmt(Math.min(...ta))}–${fmt(Math.max(...ta))}) | ${fmt(median(tb))} (${fmt(Math.min(...tb))}–${fmt(Math.max(...tb))}) | ${fmt(median(ratios), 2)} (median of pair ratios) |`);
    const ma = mem.tsshim!, mb = mem['go runc shim']!;
    const mrss = (m: typeof ma) => median(m.map((x) => x.rss));
    const mpss = (m: typeof ma) => median(m.map((x) => x.pss));
    out.push(`| shim RSS per container, median MiB (${ma.length} vs ${mb.length} processes) | ${fmt(mrss(ma))} | ${fmt(mrss(mb))} | ${fmt(mrss(ma) / mrss(mb), 2)} |`);
    out.push(`| shim PSS per container, median MiB | ${fmt(mpss(ma))} | ${fmt(mpss(mb))} | ${fmt(mpss(ma) / mpss(mb), 2)} |`);
    const g = grouped[0]!;
    out.push(`| tsshim grouped: one process for ${CONTAINERS} containers, RSS / PSS per container, MiB | ${fmt(g.rss / CONTAINERS)} / ${fmt(g.pss / CONTAINERS)} | ${fmt(mrss(mb))} / ${fmt(mpss(mb))} | ${fmt(g.rss / CONTAINERS / mrss(mb), 2)} / ${fmt(g.pss / CONTAINERS / mpss(mb), 2)} |`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await c.stop();
  }
}

await main();
