// Generates static protobufjs code (no .proto parsing at shim start-up) from proto/**/*.proto
// into src/api/gen/. The output is a build artefact and is not committed.
//
// The files are parsed here rather than through `pbjs file.proto`: pbjs silently swaps any
// google/protobuf/*.proto for protobufjs' bundled copies, whose Any keeps the snake_case
// `type_url` while every other field is camelCase. Parsing our own files gives one naming rule.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs');
const { pbjs } = require('protobufjs-cli');

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
const reflected = new protobuf.Root();
for (const file of files) {
  protobuf.parse.filename = file;
  const parsed = protobuf.parse(readFileSync(join(protoDir, file), 'utf8'), reflected, { keepCase: false });
  for (const imported of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
    if (!files.includes(imported)) throw new Error(`${file}: import "${imported}" is not a file under proto/`);
  }
}
reflected.resolveAll();

const options = {
  target: 'static-module', wrap: 'es6', es6: true,
  beautify: false, delimited: false, verify: false, convert: false,
};
const js = await new Promise((resolve, reject) =>
  pbjs.generate(reflected, options, (err, output) => (err ? reject(err) : resolve(output))));

mkdirSync(outDir, { recursive: true });
const jsPath = join(outDir, 'proto.js');
// pbjs imports "protobufjs/minimal"; Node's ESM resolver needs the file extension.
writeFileSync(jsPath, js.replace(/from "protobufjs\/minimal"/g, 'from "protobufjs/minimal.js"'));
execFileSync(bin('pbts'), ['--no-comments', '-o', join(outDir, 'proto.d.ts'), jsPath], { stdio: 'inherit' });
