// Where a packaged shim's start-up time goes, step by step, without containerd: each step is a
// fresh process, steps interleaved round by round, medians printed (docs/performance.md).
//   node scripts/bench-startup.mjs [--rounds N] [--binary dist/containerd-shim-tsshim-v2]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '15' }, binary: { type: 'string', default: 'dist/containerd-shim-tsshim-v2' } },
});
const rounds = Number(opts.rounds);
const binary = resolve(opts.binary);
const work = mkdtempSync(join(tmpdir(), 'tsshim-startup-'));
const cache = join(work, 'cache');
const sockets = join(work, 's');
mkdirSync(sockets);
const env = { ...process.env, TSSHIM_CACHE_DIR: cache, TSSHIM_SOCKET_DIR: sockets };
execFileSync(binary, ['-v'], { env }); // unpack once
const payload = join(cache, readdirSync(cache).find((f) => /^[0-9a-f]{64}$/.test(f)));
const node = join(payload, 'node');
const bundle = join(payload, 'dist/shim.cjs');
const snapshot = join(payload, 'dist/shim.snapshot');
const snapshotConfig = join(work, 'snapshot.toml');
writeFileSync(snapshotConfig, 'startup_snapshot = true\n');
const nodeEnv = { ...env, NODE_COMPILE_CACHE: join(cache, 'compile-cache') };

function timed(file, args, o = {}) {
  const t0 = process.hrtime.bigint();
  const out = execFileSync(file, args, { env: o.env ?? env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out };
}

let n = 0;
function bundleDir(annotations) {
  const dir = join(work, `b${n++}`);
  mkdirSync(join(dir, 'rootfs'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations }));
  return dir;
}

const servingGroup = join(sockets, 'probe');
const listener = net.createServer((s) => s.destroy());
await new Promise((r) => listener.listen(servingGroup, r));

const steps = {
  'node -e 0 (Node floor)': () => timed(node, ['-e', '0'], { env: nodeEnv }).ms,
  'bundle, cli only (-v)': () => timed(node, [bundle, '-v'], { env: nodeEnv }).ms,
  'packaged binary -v (front end + Node + cli)': () => timed(binary, ['-v']).ms,
  'snapshot, cli only (-v)': () => timed(node, ['--snapshot-blob', snapshot, '--', bundle, '-v'], { env: nodeEnv }).ms,
  'start, first of a group: until the address is printed': () => startFirst(env),
  'start, first of a group, startup_snapshot = true': () => startFirst({ ...env, TSSHIM_CONFIG: snapshotConfig }),
  'start, group already served (front end only)': () => {
    const dir = bundleDir({ 'io.containerd.tsshim.v2.group': 'g' });
    return timed(binary, ['-namespace', 'b', '-id', 'x', '-address', '/probe', 'start'], { cwd: dir }).ms;
  },
  'delete after a clean Delete (front end only)': () => {
    const dir = bundleDir(undefined);
    writeFileSync(join(dir, 'init.pid'), '1');
    writeFileSync(join(dir, 'init.exit.json'), JSON.stringify({ pid: 1, status: 0, exitedAt: new Date().toISOString() }));
    return timed(binary, ['-namespace', 'b', '-id', 'x', '-address', '/probe', '-bundle', dir, 'delete']).ms;
  },
  'delete through Node (no exit recorded)': () => {
    const dir = bundleDir(undefined);
    return timed(binary, ['-namespace', 'b', '-id', 'x', '-address', '/probe', '-bundle', dir, 'delete']).ms;
  },
  'delete through Node, TSSHIM_NO_SNAPSHOT=1': () => {
    const dir = bundleDir(undefined);
    return timed(binary, ['-namespace', 'b', '-id', 'x', '-address', '/probe', '-bundle', dir, 'delete'], { env: { ...env, TSSHIM_NO_SNAPSHOT: '1' } }).ms;
  },
};

/** `start` of a group's first task, until the address is printed; then ends the daemon. */
function startFirst(startEnv) {
  const dir = bundleDir(undefined);
  const id = `t${n}`;
  const address = join(work, 'containerd.sock');
  const t0 = process.hrtime.bigint();
  const out = execFileSync(binary, ['-namespace', 'b', '-id', id, '-address', address, 'start'], { cwd: dir, env: startEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const path = out.toString().replace('unix://', '');
  // The daemon serves with no task; end it (it is ours: its socket names it).
  const pid = readdirSync('/proc').find((p) => /^\d+$/.test(p) && safeRead(`/proc/${p}/cmdline`).includes(`-id\0${id}\0`));
  if (pid) process.kill(Number(pid), 'SIGKILL');
  rmSync(path, { force: true });
  return ms;
}

function safeRead(p) {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

// The served-group step needs the probe socket at the name the front end derives for group "g".
const { createHash } = await import('node:crypto');
const gpath = join(sockets, createHash('sha256').update('/probe/b/g').digest('hex'));
const gl = net.createServer((s) => s.destroy());
await new Promise((r) => gl.listen(gpath, r));

const samples = Object.fromEntries(Object.keys(steps).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) for (const [k, f] of Object.entries(steps)) samples[k].push(f());
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, ${rounds} rounds`);
for (const [k, a] of Object.entries(samples)) console.log(`${median(a).toFixed(1).padStart(8)} ms  ${k}`);
listener.close();
gl.close();
rmSync(work, { recursive: true, force: true });
