// Every figure of the shim's cost, A/B against the Go reference shim (containerd-shim-runc-v2) on
// one private containerd, interleaved round by round so that machine drift hits both alike.
// Prints medians and tsshim/Go ratios against the targets, and writes the README's table.
//   npm run bench -- [--rounds N] [--containers K] [--node-containers L] [--mb M] [--no-readme]
// Needs root, containerd, runc and the packaged binary (npm run bench packages it first).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { busyboxImage, packagedShimDir, projectDir, startContainerd, uniqueId, type Containerd } from '../test/integration/harness/index.js';
import { median, memoryMiB, numberOption, pidsMatching } from './bench-util.js';

const ROUNDS = numberOption('rounds', 7);
const CONTAINERS = numberOption('containers', 10);
// A node's worth of pods (Kubernetes' default limit is 110 a node): where node mode is meant to be used.
const NODE_CONTAINERS = numberOption('node-containers', 110);
const MB = numberOption('mb', 200);
const PARALLEL = 20;

const TS = 'io.containerd.tsshim.v2';
const GO = 'io.containerd.runc.v2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pidsOf = (c: Containerd, match: string) => pidsMatching(match, c.address);
const tsPids = (c: Containerd) => pidsOf(c, 'shim.cjs');
const goPids = (c: Containerd) => pidsOf(c, 'containerd-shim-runc-v2');

const memory = memoryMiB;

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function must(c: Containerd, a: string[], timeoutMs?: number) {
  const r = await c.ctr(a, { timeoutMs });
  if (r.code !== 0) throw new Error(`ctr ${a.join(' ')}: ${r.code} ${r.stderr}`);
  return r;
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const c = await startContainerd({ pathPrepend: [packagedShimDir()] });
  const nodeConfig = join(c.dir, 'tsshim-node.toml');
  writeFileSync(nodeConfig, 'grouping = "node"\n');
  const nodeFlags = ['--runtime-config-path', nodeConfig];
  const snapshotConfig = join(c.dir, 'tsshim-snapshot.toml');
  writeFileSync(snapshotConfig, 'startup_snapshot = true\n');
  const snapshotFlags = ['--runtime-config-path', snapshotConfig];
  const SNAP = ', startup_snapshot = true';
  const keep: string[] = [];
  const cleanup = async () => {
    for (const id of keep) await c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await sleep(500);
    for (const id of keep) {
      await c.ctr(['task', 'delete', id], { timeoutMs: 30_000 });
      await c.ctr(['container', 'delete', id]);
    }
    keep.length = 0;
  };
  try {
    const image = await busyboxImage(c);
    const runRm = (runtime: string, flags: string[] = []) => must(c, ['run', '--rm', '--runtime', runtime, ...flags, image, uniqueId('b'), '/bin/true']);
    const detached = async (runtime: string, flags: string[] = []) => {
      const id = uniqueId('k');
      await must(c, ['run', '-d', '--runtime', runtime, ...flags, image, id, 'sleep', '100000']);
      keep.push(id);
      return id;
    };
    for (const rt of [TS, GO]) await runRm(rt); // warm-up: page cache, compile cache, runc

    // Long-lived members that keep a pod group's and the node's daemon serving.
    const podFlags = (rt: string) => ['--annotation', `${rt === TS ? 'io.containerd.tsshim.v2.group' : 'io.containerd.runc.v2.group'}=bench-pod`];
    await detached(TS, podFlags(TS));
    await detached(GO, podFlags(GO));
    await detached(TS, nodeFlags);
    const execTs = await detached(TS);
    const execGo = await detached(GO);

    const f: Record<string, { ts: number[]; go: number[] }> = {};
    const add = (k: string, ts: number, go: number) => {
      f[k] ??= { ts: [], go: [] };
      f[k]!.ts.push(ts);
      f[k]!.go.push(go);
    };
    const killToExit = async (runtime: string) => {
      const id = uniqueId('kx');
      const run = c.ctr(['run', '--rm', '--runtime', runtime, image, id, 'sleep', '100000'], { timeoutMs: 60_000 });
      for (let i = 0; ; i++) {
        const r = await c.ctr(['task', 'ls']);
        if (r.stdout.toString().split('\n').some((l) => l.startsWith(`${id} `) && l.includes('RUNNING'))) break;
        if (i > 300) throw new Error(`${id} never ran`);
        await sleep(20);
      }
      const t0 = performance.now();
      await c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await run;
      return performance.now() - t0;
    };
    // Each pair runs in the opposite order every other round: whichever goes first pays for
    // what the step before it left running (containerd removing a snapshot, a daemon exiting).
    const pair = async (r: number, ts: () => Promise<number>, go: () => Promise<number>): Promise<[number, number]> => {
      if (r % 2 === 0) {
        const t = await ts();
        return [t, await go()];
      }
      const g = await go();
      return [await ts(), g];
    };
    for (let r = 0; r < ROUNDS; r++) {
      const [ts, go] = await pair(r, () => timed(() => runRm(TS)), () => timed(() => runRm(GO)));
      add('run --rm, one daemon per container', ts, go);
      add(`run --rm, one daemon per container${SNAP}`, await timed(() => runRm(TS, snapshotFlags)), go);
      add("run --rm, pod's second container", ...(await pair(r, () => timed(() => runRm(TS, podFlags(TS))), () => timed(() => runRm(GO, podFlags(GO))))));
      add('run --rm, node mode (Go: one daemon per container)', ...(await pair(r, () => timed(() => runRm(TS, nodeFlags)), () => timed(() => runRm(GO)))));
      // An exec is short and noisy: three pairs a round.
      for (let i = 0; i < 3; i++) {
        const n = `e${r}-${i}`;
        add('exec of /bin/true', ...(await pair(r + i, () => timed(() => must(c, ['task', 'exec', '--exec-id', n, execTs, '/bin/true'])), () => timed(() => must(c, ['task', 'exec', '--exec-id', n, execGo, '/bin/true'])))));
      }
      add('kill → exit seen by ctr run', ...(await pair(r, () => killToExit(TS), () => killToExit(GO))));
    }
    const parallel = (rt: string, flags: string[] = []) => timed(() => Promise.all(Array.from({ length: PARALLEL }, () => runRm(rt, flags))));
    for (let r = 0; r < Math.min(3, ROUNDS); r++) {
      const [ts, go] = await pair(r, () => parallel(TS), () => parallel(GO));
      add(`${PARALLEL} run --rm in parallel`, ts, go);
      add(`${PARALLEL} run --rm in parallel${SNAP}`, await parallel(TS, snapshotFlags), go);
    }

    // Output: MB megabytes through an exec's stdout, wall time and the shim's CPU time.
    const cmd = ['sh', '-c', `head -c ${MB * 1048576} /dev/zero`];
    const daemonOf = (id: string, pids: number[]) => pids.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(id)) ?? pids[0]!;
    const tsShim = daemonOf(execTs, tsPids(c));
    const goShim = daemonOf(execGo, goPids(c));
    const stdout = { wall: { ts: [] as number[], go: [] as number[] }, cpu: { ts: [] as number[], go: [] as number[] } };
    // Two seconds a copy, but from one copy to the next they vary by half: five, in alternating order.
    for (let r = 0; r < Math.min(5, ROUNDS); r++) {
      const shims = [['ts', execTs, tsShim], ['go', execGo, goShim]] as const;
      for (const [k, id, pid] of r % 2 === 0 ? shims : [...shims].reverse()) {
        const cpu0 = cpuMs(pid);
        const wall = await timed(async () => {
          const res = await must(c, ['task', 'exec', '--exec-id', `o${r}`, id, ...cmd], 120_000);
          if (res.stdout.length !== MB * 1048576) throw new Error(`${k}: ${res.stdout.length} bytes`);
        });
        stdout.wall[k].push(wall);
        stdout.cpu[k].push((cpuMs(pid) - cpu0) / MB);
      }
    }
    await cleanup();

    // Memory: CONTAINERS idle containers per mode.
    const mem: Record<string, number[][]> = {};
    const measure = async (label: string, runtime: string, flags: (i: number) => string[], pids: () => number[], count = CONTAINERS) => {
      const before = new Set(pids());
      for (let i = 0; i < count; i++) await detached(runtime, flags(i));
      await sleep(2000);
      const procs = pids().filter((p) => !before.has(p)).map(memory);
      const rss = procs.reduce((a, m) => a + m.rss, 0) / count;
      const pss = procs.reduce((a, m) => a + m.pss, 0) / count;
      mem[label] = [[rss, pss, procs.length]];
      await cleanup();
    };
    await measure('go', GO, () => [], () => goPids(c));
    await measure('task', TS, () => [], () => tsPids(c));
    await measure('snapshot', TS, () => snapshotFlags, () => tsPids(c));
    await measure('pod', TS, () => ['--annotation', 'io.containerd.tsshim.v2.group=mem-pod'], () => tsPids(c));
    await measure('node', TS, () => nodeFlags, () => tsPids(c));
    if (NODE_CONTAINERS > 0) {
      await measure('go-node-scale', GO, () => [], () => goPids(c), NODE_CONTAINERS);
      await measure('node-scale', TS, () => nodeFlags, () => tsPids(c), NODE_CONTAINERS);
    }

    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const rows: string[][] = [];
    const target: Record<string, number> = {
      'run --rm, one daemon per container': 1.3,
      [`run --rm, one daemon per container${SNAP}`]: 1.3,
      "run --rm, pod's second container": 0.9,
      'run --rm, node mode (Go: one daemon per container)': 0.9,
      'exec of /bin/true': 1.0,
      'kill → exit seen by ctr run': 1.0,
      [`${PARALLEL} run --rm in parallel`]: 1.2,
      [`${PARALLEL} run --rm in parallel${SNAP}`]: 1.2,
    };
    const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
    for (const [k, v] of Object.entries(f)) {
      const ratio = median(v.ts.map((t, i) => t / v.go[i]!));
      rows.push([k, ms(median(v.ts)), ms(median(v.go)), ratio.toFixed(2), `≤ ${target[k]?.toFixed(1) ?? '–'}`]);
    }
    const g = mem.go![0]!;
    const memRows = [
      ['one daemon per container', 'task', 3.0],
      [`one daemon per container${SNAP}`, 'snapshot', 3.0],
      ['pod mode, one group', 'pod', undefined],
      ['node mode', 'node', 0.5],
    ] as const;
    for (const [label, key, t] of memRows) {
      const m = mem[key]![0]!;
      rows.push([`shim RSS per container, ${label} (${CONTAINERS} idle)`, `${m[0]!.toFixed(1)} MiB`, `${g[0]!.toFixed(1)} MiB`, (m[0]! / g[0]!).toFixed(2), '–']);
      rows.push([`shim PSS per container, ${label}`, `${m[1]!.toFixed(1)} MiB`, `${g[1]!.toFixed(1)} MiB`, (m[1]! / g[1]!).toFixed(2), t ? `≤ ${t.toFixed(1)}` : '–']);
    }
    if (NODE_CONTAINERS > 0) {
      const gs = mem['go-node-scale']![0]!;
      const ns = mem['node-scale']![0]!;
      rows.push([`shim PSS per container, node mode (${NODE_CONTAINERS} idle; Go: one daemon each)`, `${ns[1]!.toFixed(1)} MiB`, `${gs[1]!.toFixed(1)} MiB`, (ns[1]! / gs[1]!).toFixed(2), '≤ 0.5']);
    }
    rows.push([`${MB} MB of exec stdout through ctr, wall time`, ms(median(stdout.wall.ts)), ms(median(stdout.wall.go)), (median(stdout.wall.ts) / median(stdout.wall.go)).toFixed(2), '≤ 1.0']);
    rows.push(['shim CPU time per MB of stdout', `${median(stdout.cpu.ts).toFixed(2)} ms`, `${median(stdout.cpu.go).toFixed(2)} ms`, (median(stdout.cpu.ts) / median(stdout.cpu.go)).toFixed(2), '≤ 1.0']);

    const ttrpc = execFileSync(join(projectDir(), 'node_modules/.bin/vite-node'), [join(projectDir(), 'scripts/bench-ttrpc-shims.ts'), '--', '--calls', '3000', '--rounds', '3'], { encoding: 'utf8' });
    for (const line of ttrpc.split('\n').filter((l) => /^\| (sequential|calls)/.test(l))) {
      const cells = line.split('|').slice(1, -1).map((s) => s.trim());
      rows.push([`ttrpc State round trips: ${cells[0]}`, cells[1]!, cells[2]!, cells[3]!, '–']);
    }

    const table = [
      `containerd ${c.version}, runc; ${ROUNDS} interleaved rounds, the two shims in alternating order (medians; ratio = median of the per-pair tsshim/Go ratios; exec three pairs a round); load average ${load} at the end`,
      '',
      '| figure | tsshim | Go runc shim | tsshim / Go | target |',
      '| --- | --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    process.stdout.write(`${table}\n`);
    if (!process.argv.includes('--no-readme')) {
      const readme = join(projectDir(), 'README.md');
      const text = readFileSync(readme, 'utf8');
      const begin = '<!-- bench:begin -->';
      const end = '<!-- bench:end -->';
      if (text.includes(begin)) writeFileSync(readme, text.replace(new RegExp(`${begin}[\\s\\S]*${end}`), `${begin}\n${table}\n${end}`));
    }
  } finally {
    await cleanup().catch(() => undefined);
    await c.stop();
  }
}

await main();
