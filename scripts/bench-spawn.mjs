// How long starting a runtime blocks the event loop: child_process.spawn (libuv's fork()) against
// the addon's vfork + exec (src/sys/spawn.ts), from a process with --mb MiB of memory touched,
// as a daemon has. Interleaved, medians of the synchronous part of each call (docs/performance.md).
//   node scripts/bench-spawn.mjs [--rounds N] [--mb M] [--binary /usr/bin/runc]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '50' }, mb: { type: 'string', default: '60' }, binary: { type: 'string', default: '/usr/bin/runc' } },
});
const addon = { exports: {} };
process.dlopen(addon, join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'tsshim_native.node'));
const touched = Array.from({ length: Number(opts.mb) }, () => Buffer.alloc(1 << 20, 1));
const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
const file = opts.binary;
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const libuv = [];
const vfork = [];
/** Reaps the addon's child (libuv does not know it). */
const reap = (pid) => new Promise((resolve) => {
  const poll = () => (addon.exports.waitpidNoHang(pid) ? resolve() : setTimeout(poll, 1));
  poll();
});
for (let i = 0; i < Number(opts.rounds); i++) {
  let t0 = performance.now();
  const child = spawn(file, ['--version'], { stdio: 'ignore' });
  libuv.push(performance.now() - t0);
  await new Promise((r) => child.once('exit', r));
  t0 = performance.now();
  const pid = addon.exports.spawn(file, [file, '--version'], env, null, [-1, -1, -1]);
  vfork.push(performance.now() - t0);
  await reap(pid);
}
console.log(`${file} --version, ${touched.length} MiB touched, ${opts.rounds} rounds: child_process.spawn ${median(libuv).toFixed(2)} ms, addon vfork ${median(vfork).toFixed(2)} ms (medians of the blocking call)`);
