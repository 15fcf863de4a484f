#!/usr/bin/env node
// Fails when a module of src/ imports from a layer above its own (docs/architecture.md): imports
// go down only, and the layers of one rank (runtime, io, events) do not import each other.
// Static, dynamic and type-only imports and re-exports all count.
//
//   node scripts/check-layers.mjs        exit 1 and one line per offending import
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(project, 'src');

/** Higher imports lower; equal rank only within the same layer. */
const RANK = {
  errors: 0, sys: 1, api: 2, ttrpc: 3, runtime: 4, io: 4, events: 4, trace: 4, task: 5, faults: 5, hooks: 6, shim: 7, ctl: 7,
};

function* modules(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* modules(path);
    else if (/\.(ts|js|cjs|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield path;
  }
}

const layerOf = (file) => relative(src, file).split(sep)[0];
const specifiers = (text) => {
  const out = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  for (let m; (m = re.exec(text)); ) out.push(m[1]);
  return out;
};

const problems = [];
for (const file of modules(src)) {
  const layer = layerOf(file);
  if (!(layer in RANK)) {
    problems.push(`${relative(project, file)}: not in any layer (add ${layer} to RANK in scripts/check-layers.mjs and to docs/architecture.md)`);
    continue;
  }
  for (const spec of specifiers(readFileSync(file, 'utf8'))) {
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src + sep)) continue;
    const to = layerOf(target);
    if (to === layer) continue;
    if (!(to in RANK) || RANK[to] >= RANK[layer]) {
      problems.push(`${relative(project, file)}: imports ${spec} (${to}), which is not below ${layer}`);
    }
  }
}

if (problems.length > 0) {
  process.stderr.write(`layer check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`layer check: every import in src/ goes down the layers\n`);
