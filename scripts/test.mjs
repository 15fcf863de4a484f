#!/usr/bin/env node
// Runs the test suite: the unit tests once, and the integration tests once per containerd
// version, each run in its own vitest process with TSSHIM_TEST_CONTAINERD pointing at that
// version's binary (startContainerd() and so startTsshimEnv() use it by default; the release's
// own ctr and containerd-shim-runc-v2 are found next to it).
//
//   node scripts/test.mjs [--containerd=1.6,1.7,2.x] [FILTER...]
//
// FILTERs are substrings of test file paths (as for vitest): only matching files run.
// Every selected containerd must be installed (scripts/install-deps.sh --containerd-releases);
// a missing one fails the run. Without root the integration tests skip themselves, so they are
// run only once and no containerd is required.
//
// Ends with one line "tests: N passed, N failed, N skipped" over all runs; exits non-zero if
// any run failed.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The containerd versions CI runs the integration tests on, in order. */
const MATRIX = [
  { label: '1.6', source: 'Debian 12 package', containerd: '/usr/bin/containerd' },
  { label: '1.7', source: 'Debian trixie .deb', containerd: join(project, '.cache/containerd/trixie/usr/bin/containerd') },
  { label: '2.x', source: 'Debian sid .deb', containerd: join(project, '.cache/containerd/sid/usr/bin/containerd') },
];

/**
 * Integration files whose subject does not depend on the containerd version, run only with the
 * first version in MATRIX to keep CI within its time budget. Every other integration file,
 * including any new one, runs on every version.
 */
const FIRST_VERSION_ONLY = new Set([
  // the harness self-test; it runs the Go runc shim of every unpacked release itself
  'test/integration/harness.test.ts',
  // our ttrpc client against containerd's and the Go shim's ttrpc servers
  'test/integration/ttrpc-interop.test.ts',
  // the shim's `check` action: no containerd involved
  'test/integration/check.test.ts',
  // the packaged binary's own answers (fast paths, unpacking): no containerd involved
  'test/integration/packaged-binary.test.ts',
]);

function listTests(dir) {
  const out = [];
  for (const entry of readdirSync(join(project, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listTests(rel));
    else if (entry.name.endsWith('.test.ts')) out.push(rel);
  }
  return out.sort();
}

function parseArgs(argv) {
  let labels = MATRIX.map((m) => m.label);
  const filters = [];
  for (const a of argv) {
    if (a.startsWith('--containerd=')) labels = a.slice('--containerd='.length).split(',').filter(Boolean);
    else if (a === '-h' || a === '--help') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 15).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else filters.push(a);
  }
  const unknown = labels.filter((l) => !MATRIX.some((m) => m.label === l));
  if (unknown.length) throw new Error(`unknown containerd version ${unknown.join(', ')} (known: ${MATRIX.map((m) => m.label).join(', ')})`);
  return { versions: MATRIX.filter((m) => labels.includes(m.label)), filters };
}

/** Checks a matrix entry's binaries; returns its `containerd --version` or throws why it cannot be used. */
function checkVersion(v) {
  const dir = dirname(v.containerd);
  const missing = ['containerd', 'ctr', 'containerd-shim-runc-v2'].filter((b) => !existsSync(join(dir, b)));
  if (missing.length) throw new Error(`containerd ${v.label} (${v.source}): missing ${missing.map((b) => join(dir, b)).join(', ')}`);
  const r = spawnSync(v.containerd, ['--version'], { encoding: 'utf8' });
  const found = /\sv?(\d+\.\d+\.\d+)/.exec(r.stdout ?? '')?.[1];
  if (r.status !== 0 || !found) throw new Error(`containerd ${v.label}: ${v.containerd} --version failed: ${r.stderr || r.error}`);
  const want = v.label.replace(/\.x$/, '.');
  if (!found.startsWith(want.endsWith('.') ? want : `${want}.`)) throw new Error(`containerd ${v.label}: ${v.containerd} is version ${found}`);
  return found;
}

function banner(text) {
  const line = '='.repeat(Math.max(10, 78 - text.length - 2));
  console.log(`\n=== ${text} ${line}`);
}

// A test worker stuck in a busy loop never reaches its own timeouts; no run may take longer.
let interrupted = false;
const RUN_TIMEOUT_MS = Number(process.env.TSSHIM_TEST_RUN_TIMEOUT_S || 1500) * 1000;

function runVitest(files, env, reportFile, packagedDir) {
  return new Promise((resolvePromise) => {
    const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...files];
    // Its own process group, so that a run that overstays can be ended with all its workers.
    const child = spawn(join(project, 'node_modules/.bin/vitest'), args, {
      cwd: project,
      stdio: 'inherit',
      // The packaged shim unpacks its payload into a cache shared by every build on the machine and
      // prunes other builds' payloads there; a cache of this checkout's own keeps a second
      // checkout's build (or an installed tsshim) from pulling the payload out from under the tests.
      env: { TSSHIM_CACHE_DIR: join(project, '.cache/payload'), ...process.env, ...env, TSSHIM_TEST_PACKAGED_DIR: packagedDir },
      detached: true,
    });
    const killGroup = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\nthis run has taken more than ${RUN_TIMEOUT_MS / 1000} s: stopping it`);
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 20_000).unref();
    }, RUN_TIMEOUT_MS);
    // Ctrl-C or a CI cancel reaches this process; pass it on to the run.
    const forward = (sig) => () => {
      interrupted = true;
      killGroup(sig);
    };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolvePromise(timedOut ? 124 : (code ?? (signal ? 128 : 1)));
    });
  });
}

function readReport(file) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    return {
      passed: r.numPassedTests ?? 0,
      failed: r.numFailedTests ?? 0,
      skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0),
      failedFiles: r.numFailedTestSuites ?? 0,
    };
  } catch {
    return undefined;
  }
}

function fmtDuration(ms) {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

async function main() {
  const { versions, filters } = parseArgs(process.argv.slice(2));
  const matches = (f) => filters.length === 0 || filters.some((x) => f.includes(x));
  const unit = listTests('test/unit').filter(matches);
  const integration = listTests('test/integration').filter(matches);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

  const runs = [];
  if (!isRoot || versions.length === 0) {
    if (!isRoot) console.log('not root: the integration tests skip themselves; running every file once');
    runs.push({ name: 'all tests', files: [...unit, ...integration], env: {} });
  } else {
    const problems = [];
    const found = versions.map((v) => {
      try {
        return checkVersion(v);
      } catch (err) {
        problems.push(err.message);
        return undefined;
      }
    });
    if (problems.length) {
      console.error(`cannot run the integration tests on every selected containerd:\n  ${problems.join('\n  ')}`);
      console.error('install them with: scripts/install-deps.sh --containerd-releases');
      process.exit(1);
    }
    versions.forEach((v, i) => {
      const first = i === 0;
      const files = first ? [...unit, ...integration] : integration.filter((f) => !FIRST_VERSION_ONLY.has(f));
      const what = first && unit.length ? 'unit tests + integration tests' : 'integration tests';
      runs.push({ name: `${what} on containerd ${found[i]} (${v.label}, ${v.source})`, label: v.label, version: found[i], files, env: { TSSHIM_TEST_CONTAINERD: v.containerd } });
    });
  }

  const reportDir = mkdtempSync(join(tmpdir(), 'tsshim-test-'));
  // What users install, copied once for the whole run into a directory that has nothing to do
  // with the checkout (harness packagedShimDir()); a copy per test file would cost ~250 MB each.
  const packagedDir = join(reportDir, 'bin');
  mkdirSync(packagedDir);
  for (const name of ['containerd-shim-tsshim-v2', 'tsshimctl']) {
    const built = join(project, 'dist', name);
    if (!existsSync(built)) continue;
    copyFileSync(built, join(packagedDir, name));
    chmodSync(join(packagedDir, name), 0o755);
  }
  const results = [];
  try {
    for (const [i, run] of runs.entries()) {
      if (interrupted) break;
      if (run.files.length === 0) continue;
      banner(`${run.name}: ${run.files.length} files`);
      if (run.label) {
        const bin = run.env.TSSHIM_TEST_CONTAINERD;
        console.log(`TSSHIM_TEST_CONTAINERD=${bin.startsWith(project + '/') ? relative(project, bin) : bin}`);
      }
      const start = Date.now();
      const reportFile = join(reportDir, `run-${i}.json`);
      const code = await runVitest(run.files, run.env, reportFile, packagedDir);
      const report = readReport(reportFile) ?? { passed: 0, failed: 0, skipped: 0, failedFiles: 0 };
      results.push({ ...run, code, ms: Date.now() - start, ...report });
    }
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }

  if (results.length === 0) {
    console.error('no test file matched');
    process.exit(1);
  }
  banner('summary');
  for (const r of results) {
    const status = r.code === 0 ? 'PASS' : 'FAIL';
    const extra = r.code !== 0 && r.failed === 0 ? ` (vitest exit ${r.code}${r.failedFiles ? `, ${r.failedFiles} files failed to run` : ''})` : '';
    console.log(`${status}  ${(r.label ? `containerd ${r.version}` : r.name).padEnd(20)} ${String(r.files.length).padStart(3)} files  ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped  ${fmtDuration(r.ms)}${extra}`);
  }
  const sum = (k) => results.reduce((n, r) => n + r[k], 0);
  const failedRuns = results.filter((r) => r.code !== 0).length;
  // A run that failed without a failing test (a file that did not load, a crash) still counts.
  console.log(`\ntests: ${sum('passed')} passed, ${sum('failed') + (failedRuns && sum('failed') === 0 ? failedRuns : 0)} failed, ${sum('skipped')} skipped`);
  process.exit(failedRuns ? 1 : 0);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
