// Soak: many containers and execs through tsshim on one private containerd, then a check that
// nothing grew. A sentinel container runs throughout, so one shim lives from the first figure to
// the last; every other shim must be gone at the end.
//   npm run soak -- [--containers 100] [--execs 10] [--parallel 20]
//   TSSHIM_TEST_CONTAINERD=<containerd binary> picks the containerd (default: the host's).
// Needs root, containerd, runc and a built tsshim. Exits 1 when a figure grew beyond its
// allowance (ALLOWANCE below), after printing every figure.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { uniqueId } from '../test/integration/harness/index.js';
import { RUNTIME, startTsshimEnv, type TsshimEnv } from '../test/integration/tsshim-env.js';
import { median, numberOption } from './bench-util.js';

const CONTAINERS = numberOption('containers', 100);
const EXECS = numberOption('execs', 10);
const PARALLEL = numberOption('parallel', 20);

/**
 * Growth tolerated between the first and the last figure. Memory: a GC'd runtime settles at a
 * higher heap after load without leaking; descriptors, zombies, mounts and stray processes: a
 * leak of one per container would show as ~100, so a handful is the allowance.
 */
const ALLOWANCE = {
  rssMiB: { containerd: 48, shim: 24 },
  fds: { containerd: 8, shim: 4 },
  zombies: 0,
  mounts: 0,
  cgroupProcs: 0,
  shims: 0,
};

interface ProcFigures {
  fds: number;
  rssMiB: number;
  zombies: number;
}

function procFigures(pid: number): ProcFigures {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  let zombies = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === pid) zombies++;
    } catch {
      // ended while we looked
    }
  }
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rssMiB: rssKb / 1024, zombies };
}

/** Mount points under containerd's own directories (rootfs of tasks, snapshots in use). */
function mountsUnder(dir: string): number {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(dir)).length;
}

/**
 * Processes still in the cgroups ctr gave the soak's containers (/<namespace>/<id>, in the pids
 * hierarchy on v1, the unified one on v2). Only ids of this run: other containerds on the host
 * may use the same namespace.
 */
function cgroupProcs(namespace: string, ids: readonly string[]): number {
  let n = 0;
  for (const id of ids) {
    for (const dir of [join('/sys/fs/cgroup/pids', namespace, id), join('/sys/fs/cgroup', namespace, id)]) {
      try {
        n += readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length;
      } catch {
        // no such cgroup (removed with its container), or not this hierarchy
      }
    }
  }
  return n;
}

interface Snapshot {
  containerd: ProcFigures;
  shim: ProcFigures;
  mounts: number;
  cgroupProcs: number;
  shims: number;
}

function snapshot(env: TsshimEnv, sentinelShim: number, ids: readonly string[]): Snapshot {
  return {
    containerd: procFigures(env.c.pid),
    shim: procFigures(sentinelShim),
    mounts: mountsUnder(env.c.dir),
    cgroupProcs: cgroupProcs(env.c.namespace, ids),
    shims: env.shimProcesses().length,
  };
}

async function ctrOk(env: TsshimEnv, argv: string[]): Promise<void> {
  const r = await env.c.ctr(argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`ctr ${argv.join(' ')} failed (${r.code}): ${r.stderr.toString()}`);
}

async function gone(pid: number, boundMs = 30_000): Promise<boolean> {
  const end = Date.now() + boundMs;
  while (Date.now() < end) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat)) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))] ?? NaN;
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function main(): Promise<void> {
  const env = await startTsshimEnv();
  let failed = false;
  try {
    console.log(`containerd ${env.c.version}; ${CONTAINERS} containers x ${EXECS} execs in sequence, then ${PARALLEL} in parallel`);
    const sentinel = uniqueId('soak-sentinel');
    const shimsBefore = new Set(env.shimProcesses());
    await ctrOk(env, ['run', '-d', '--runtime', RUNTIME, env.image, sentinel, 'sleep', '100000']);
    const sentinelShim = env.shimProcesses().find((p) => !shimsBefore.has(p));
    if (!sentinelShim) throw new Error('no shim for the sentinel container');
    // Let the first figures see a shim that has served once, as every later one has.
    await ctrOk(env, ['task', 'exec', '--exec-id', 'warm', sentinel, 'true']);
    const ids: string[] = [];
    const before = snapshot(env, sentinelShim, ids);

    // Phase 1: in sequence, each container with its execs; time each step and the shim's exit.
    const t1 = performance.now();
    const runMs: number[] = [];
    const execMs: number[] = [];
    const exitAfterDeleteMs: number[] = [];
    for (let i = 0; i < CONTAINERS; i++) {
      const id = uniqueId('soak');
      ids.push(id);
      const known = new Set(env.shimProcesses());
      let t = performance.now();
      await ctrOk(env, ['run', '-d', '--runtime', RUNTIME, env.image, id, 'sleep', '100000']);
      runMs.push(performance.now() - t);
      const shim = env.shimProcesses().find((p) => !known.has(p));
      for (let j = 0; j < EXECS; j++) {
        t = performance.now();
        await ctrOk(env, ['task', 'exec', '--exec-id', `e${j}`, id, 'sh', '-c', `echo ${j} >/dev/null`]);
        execMs.push(performance.now() - t);
      }
      await ctrOk(env, ['task', 'kill', '-s', 'SIGKILL', id]);
      for (let k = 0; k < 100; k++) {
        const r = await env.c.ctr(['task', 'delete', id]);
        if (r.code === 0) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      // containerd sends Shutdown right after the Delete it answered: time until the daemon is gone.
      t = performance.now();
      if (shim !== undefined) {
        if (!(await gone(shim))) throw new Error(`shim ${shim} of ${id} still alive 30 s after its task was deleted`);
        exitAfterDeleteMs.push(performance.now() - t);
      }
      await ctrOk(env, ['container', 'delete', id]);
      if ((i + 1) % 10 === 0) console.log(`  ${i + 1}/${CONTAINERS} containers`);
    }
    const phase1 = performance.now() - t1;

    // Phase 2: all at once, each printing and exiting.
    const t2 = performance.now();
    const parallelIds = Array.from({ length: PARALLEL }, () => uniqueId('soakp'));
    ids.push(...parallelIds);
    const results = await Promise.all(
      parallelIds.map((id, i) => env.c.ctr(['run', '--rm', '--runtime', RUNTIME, env.image, id, 'echo', `p${i}`], { timeoutMs: 180_000 })),
    );
    const phase2 = performance.now() - t2;
    const bad = results.map((r, i) => ({ r, i })).filter(({ r, i }) => r.code !== 0 || r.stdout.toString() !== `p${i}\n`);
    if (bad.length > 0) {
      failed = true;
      for (const { r, i } of bad) console.log(`parallel container ${i}: code ${r.code}, stdout ${JSON.stringify(r.stdout.toString())}, stderr ${r.stderr.toString()}`);
    }

    // Let exited shims finish leaving before the last figures.
    const settleEnd = Date.now() + 30_000;
    while (env.shimProcesses().length > 1 && Date.now() < settleEnd) await new Promise((r) => setTimeout(r, 100));
    const after = snapshot(env, sentinelShim, ids);

    const rows: Array<[string, number, number, number]> = [
      ['containerd fds', before.containerd.fds, after.containerd.fds, ALLOWANCE.fds.containerd],
      ['containerd RSS MiB', before.containerd.rssMiB, after.containerd.rssMiB, ALLOWANCE.rssMiB.containerd],
      ['containerd zombies', before.containerd.zombies, after.containerd.zombies, ALLOWANCE.zombies],
      ['sentinel shim fds', before.shim.fds, after.shim.fds, ALLOWANCE.fds.shim],
      ['sentinel shim RSS MiB', before.shim.rssMiB, after.shim.rssMiB, ALLOWANCE.rssMiB.shim],
      ['sentinel shim zombies', before.shim.zombies, after.shim.zombies, ALLOWANCE.zombies],
      ['mounts under the state dir', before.mounts, after.mounts, ALLOWANCE.mounts],
      ['processes in container cgroups', before.cgroupProcs, after.cgroupProcs, ALLOWANCE.cgroupProcs],
      ['shim daemons (the sentinel\'s)', before.shims, after.shims, ALLOWANCE.shims],
    ];
    console.log('\nfigure                              before    after   growth  allowed');
    for (const [name, b, a, allowed] of rows) {
      const growth = a - b;
      const over = growth > allowed;
      if (over) failed = true;
      console.log(`${name.padEnd(34)} ${b.toFixed(1).padStart(8)} ${a.toFixed(1).padStart(8)} ${growth.toFixed(1).padStart(8)} ${String(allowed).padStart(8)}${over ? '  OVER' : ''}`);
    }
    console.log(`\nphase 1: ${CONTAINERS} containers x ${EXECS} execs in ${(phase1 / 1000).toFixed(1)} s`);
    console.log(`  ctr run -d: median ${ms(median(runMs))}, p95 ${ms(p95(runMs))}`);
    console.log(`  ctr task exec: median ${ms(median(execMs))}, p95 ${ms(p95(execMs))}`);
    console.log(`  shim gone after task delete returned: median ${ms(median(exitAfterDeleteMs))}, p95 ${ms(p95(exitAfterDeleteMs))}, max ${ms(Math.max(...exitAfterDeleteMs))}`);
    console.log(`phase 2: ${PARALLEL} containers in parallel in ${(phase2 / 1000).toFixed(1)} s, ${PARALLEL - bad.length}/${PARALLEL} with exact output`);
    await restartFigure(env);

    await ctrOk(env, ['task', 'kill', '-s', 'SIGKILL', sentinel]);
    await new Promise((r) => setTimeout(r, 500));
    await env.c.ctr(['task', 'delete', sentinel]);
    await env.c.ctr(['container', 'delete', sentinel]);
  } finally {
    await env.stop();
  }
  console.log(failed ? '\nsoak: FAILED' : '\nsoak: ok');
  process.exitCode = failed ? 1 : 0;
}

/**
 * The restart path of containerd 1.7 and 2.x: a task exits while containerd is down; the reload
 * drops it and shuts its shim down. Prints how long the daemon lived after containerd answered.
 */
async function restartFigure(env: TsshimEnv): Promise<void> {
  if (env.c.version.startsWith('1.6.')) {
    console.log('restart: containerd 1.6 keeps a task that exited while it was down (STOPPED); no shutdown to time');
    return;
  }
  const id = uniqueId('soakr');
  const known = new Set(env.shimProcesses());
  await ctrOk(env, ['run', '-d', '--runtime', RUNTIME, env.image, id, 'sh', '-c', 'sleep 1; exit 7']);
  const shim = env.shimProcesses().find((p) => !known.has(p));
  let started = 0;
  await env.c.restart({
    whileStopped: async () => {
      await new Promise((r) => setTimeout(r, 6_000));
      started = performance.now();
    },
  });
  const answered = performance.now() - started;
  const exited = shim !== undefined && (await gone(shim));
  const lived = performance.now() - started;
  // containerd drops the task and shuts the shim down while it boots, so both count from its start.
  console.log(
    `restart: shim ${exited ? 'gone' : 'STILL ALIVE'} ${ms(lived)} after containerd was started again ` +
      `(containerd answered after ${ms(answered)}; the task had exited 5 s before, with the back-off near its cap)`,
  );
  await env.c.ctr(['container', 'delete', id]);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
