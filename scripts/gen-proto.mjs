// Generates static protobufjs code (no .proto parsing at shim start-up) from proto/**/*.proto
// into src/api/gen/. The output is a build artefact and is not committed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const protoDir = join(root, 'proto');
const outDir = join(root, 'src', 'api', 'gen');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.proto') ? [p] : [];
  });
}

const files = walk(protoDir).map((p) => relative(protoDir, p)).sort();
mkdirSync(outDir, { recursive: true });
const js = join(outDir, 'proto.js');
execFileSync(bin('pbjs'), [
  '-t', 'static-module', '-w', 'es6', '--es6', '--no-beautify', '--no-delimited', '--no-verify',
  '--no-convert', '-o', js, ...files,
], { cwd: protoDir, stdio: 'inherit' });
// pbjs imports "protobufjs/minimal"; Node's ESM resolver needs the file extension.
writeFileSync(js, readFileSync(js, 'utf8').replace(/from "protobufjs\/minimal"/g, 'from "protobufjs/minimal.js"'));
execFileSync(bin('pbts'), ['--no-comments', '-o', join(outDir, 'proto.d.ts'), js], { stdio: 'inherit' });
