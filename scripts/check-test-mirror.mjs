#!/usr/bin/env node
// Fails when a module of src/ has no unit test at its mirror path (src/a/b.ts is tested by
// test/unit/a/b.test.ts) and is not in EXEMPT below. Exempt are only modules without logic of
// their own (entry points, wiring, re-exports, types) or whose logic runs only in real processes;
// each names the test file that covers it (docs/architecture.md, "Where each module is tested").
// Generated code (src/api/gen) and declaration files are not modules here. Unit test files that
// mirror no module (fuzzing, captured bytes, back-pressure) are welcome alongside.
//
//   node scripts/check-test-mirror.mjs   exit 1 and one line per module without a test
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(project, 'src');

/** Module (relative to src/) → the test file that exercises it instead of a unit file of its own. */
const EXEMPT = {
  // Re-exports, constants and types: tested through the modules that use them.
  'api/index.ts': 'test/unit/api/captured-bytes.test.ts',
  'errors/index.ts': 'test/unit/errors/status-error.test.ts',
  'errors/codes.ts': 'test/unit/errors/status-error.test.ts',
  'sys/index.ts': 'test/unit/sys/pipes.test.ts',
  'sys/cgroups/index.ts': 'test/unit/sys/cgroups/v1-stats.test.ts',
  'ttrpc/index.ts': 'test/unit/ttrpc/package-entry.test.ts',
  'hooks/types.ts': 'test/integration/toolkit.test.ts',
  'task/task-runtime.ts': 'test/unit/task/container.test.ts',
  'task/task-hooks.ts': 'test/integration/toolkit.test.ts',
  'shim/version.ts': 'test/integration/shim-lifecycle.test.ts',
  // The addon loader: every test of src/sys goes through it.
  'sys/native.ts': 'test/unit/sys/pipes.test.ts',
  // Entry points and wiring of the shim binary, exercised as real processes.
  'shim/main.ts': 'test/integration/shim-lifecycle.test.ts',
  'shim/cli.ts': 'test/integration/shim-lifecycle.test.ts',
  'shim/snapshot-main.ts': 'test/integration/shim-lifecycle.test.ts',
  'shim/serve.ts': 'test/integration/shim-lifecycle.test.ts',
  'shim/start.ts': 'test/integration/shim-lifecycle.test.ts',
  'shim/info.ts': 'test/integration/shim-lifecycle.test.ts',
  // Entry points and wiring of tsshimctl, exercised against a real shim and runc.
  'ctl/main.ts': 'test/integration/tsshimctl.test.ts',
  'ctl/run.ts': 'test/integration/tsshimctl.test.ts',
  'ctl/events.ts': 'test/integration/tsshimctl.test.ts',
  'ctl/stdio-fifos.ts': 'test/integration/tsshimctl.test.ts',
  'ctl/task-api.ts': 'test/integration/tsshimctl.test.ts',
};

function* modules(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (relative(src, path) !== join('api', 'gen')) yield* modules(path);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield relative(src, path);
  }
}

const problems = [];
const seen = new Set();
for (const module of modules(src)) {
  const key = module.split(sep).join('/');
  seen.add(key);
  const mirror = join('test', 'unit', module.replace(/\.ts$/, '.test.ts'));
  const tested = existsSync(join(project, mirror));
  if (key in EXEMPT) {
    if (tested) problems.push(`src/${key}: has ${mirror}; drop it from EXEMPT in scripts/check-test-mirror.mjs`);
    else if (!existsSync(join(project, EXEMPT[key]))) problems.push(`src/${key}: exempt as covered by ${EXEMPT[key]}, which does not exist`);
  } else if (!tested) {
    problems.push(`src/${key}: no unit test at ${mirror} (add one, or exempt it in scripts/check-test-mirror.mjs and docs/architecture.md with the test that covers it)`);
  }
}
for (const key of Object.keys(EXEMPT)) {
  if (!seen.has(key)) problems.push(`src/${key}: exempt in scripts/check-test-mirror.mjs but no such module`);
}

if (problems.length > 0) {
  process.stderr.write(`test mirror check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`test mirror check: every module in src/ has a unit test or names the test that covers it\n`);
