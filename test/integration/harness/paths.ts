import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The project checkout this harness belongs to (three levels above this file). */
export function projectDir(): string {
  return path.resolve(here, '../../..');
}

/** The project's bin/ directory, which holds containerd-shim-tsshim-v2. */
export function projectBinDir(): string {
  return path.join(projectDir(), 'bin');
}

/** Scratch space for built artifacts; gitignored and shared between runs. */
export function cacheDir(): string {
  return path.join(projectDir(), '.cache');
}

export interface ContainerdBinary {
  /** "system" or the Debian suite it was unpacked from, e.g. "trixie" */
  label: string;
  containerd: string;
}

/**
 * The system containerd plus every release unpacked by `scripts/install-deps.sh
 * --containerd-releases` (.cache/containerd/<suite>/usr/bin/containerd), for tests that run
 * against each available version.
 */
export function containerdBinaries(): ContainerdBinary[] {
  const out: ContainerdBinary[] = [{ label: 'system', containerd: '/usr/bin/containerd' }];
  const base = path.join(cacheDir(), 'containerd');
  let suites: string[] = [];
  try {
    suites = fs.readdirSync(base).sort();
  } catch {
    // none unpacked
  }
  for (const suite of suites) {
    const bin = path.join(base, suite, 'usr/bin/containerd');
    if (fs.existsSync(bin)) out.push({ label: suite, containerd: bin });
  }
  return out;
}

let packagedCopy: string | undefined;

/**
 * A fresh temporary directory holding copies of the packaged binaries (`npm run package`): the
 * tests run what users install, from a directory that has nothing to do with the checkout.
 * scripts/test.mjs makes it once per run (TSSHIM_TEST_PACKAGED_DIR) and removes it; a test file
 * run by vitest directly makes its own, removed when the process exits.
 */
export function packagedShimDir(): string {
  if (packagedCopy) return packagedCopy;
  const shared = process.env['TSSHIM_TEST_PACKAGED_DIR'];
  if (shared) {
    if (!fs.existsSync(path.join(shared, 'containerd-shim-tsshim-v2'))) {
      throw new Error(`${shared} has no packaged shim: run npm run package first`);
    }
    packagedCopy = shared;
    return shared;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsshim-bin-'));
  for (const name of ['containerd-shim-tsshim-v2', 'tsshimctl']) {
    const built = path.join(projectDir(), 'dist', name);
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run npm run package first`);
    fs.copyFileSync(built, path.join(dir, name));
    fs.chmodSync(path.join(dir, name), 0o755);
  }
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  packagedCopy = dir;
  return dir;
}
