// Memory of an idle shim daemon under different Node/V8 settings, without containerd: each
// variant starts a daemon through the packaged binary (NODE_OPTIONS and the environment reach
// Node), reads its RSS and PSS once it serves, and ends it. Variants interleaved, medians.
//   node scripts/bench-daemon-memory.mjs [--rounds N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const binary = resolve('dist/containerd-shim-tsshim-v2');
const work = mkdtempSync(join(tmpdir(), 'tsshim-mem-'));
const VARIANTS = {
  'defaults': {},
  '--max-semi-space-size=1 (MiB)': { NODE_OPTIONS: '--max-semi-space-size=1' },
  '--max-old-space-size=32': { NODE_OPTIONS: '--max-old-space-size=32' },
  '--jitless': { NODE_OPTIONS: '--jitless' },
  'UV_THREADPOOL_SIZE=1': { UV_THREADPOOL_SIZE: '1' },
};
const kb = (text, key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const samples = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]));
let n = 0;
for (let r = 0; r < Number(opts.rounds); r++) {
  for (const [name, env] of Object.entries(VARIANTS)) {
    const dir = join(work, `b${n++}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), '{}');
    const id = `mem${n}`;
    execFileSync(binary, ['-namespace', 'm', '-id', id, '-address', join(work, 'c.sock'), 'start'], {
      cwd: dir,
      env: { ...process.env, TSSHIM_SOCKET_DIR: join(work, 's'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await sleep(1500);
    const pid = readdirSync('/proc').find((p) => {
      try {
        return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`-id\0${id}\0`);
      } catch {
        return false;
      }
    });
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    samples[name].push({ rss: kb(text, 'Rss') / 1024, pss: kb(text, 'Pss') / 1024 });
    process.kill(Number(pid), 'SIGKILL');
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`idle daemon, ${opts.rounds} rounds (medians)\n\n| setting | RSS MiB | PSS MiB |\n| --- | --- | --- |`);
for (const [k, a] of Object.entries(samples)) console.log(`| ${k} | ${median(a.map((x) => x.rss)).toFixed(1)} | ${median(a.map((x) => x.pss)).toFixed(1)} |`);
rmSync(work, { recursive: true, force: true });
