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
