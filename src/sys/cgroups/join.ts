import { existsSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCgroupMounts } from './paths.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

export type CgroupMode = 'unified' | 'v1';

/**
 * As containerd decides: unified only when /sys/fs/cgroup itself is cgroup2. A hybrid host (v1
 * controllers plus /sys/fs/cgroup/unified) is v1, and a cgroup is joined in the v1 hierarchies.
 */
export function cgroupMode(root = '/sys/fs/cgroup'): CgroupMode {
  return statfsSync(root).type === CGROUP2_SUPER_MAGIC ? 'unified' : 'v1';
}

export interface JoinOptions {
  mode?: CgroupMode;
  /** The unified hierarchy's mount point (v2). */
  root?: string;
  /** This process's mountinfo, which lists the v1 hierarchies. */
  mountinfo?: string;
}

/**
 * Moves `pid` into the cgroup `path` (absolute within each hierarchy), as the runc shim does with
 * Options.shim_cgroup: v2 writes the unified cgroup's cgroup.procs; v1 writes cgroup.procs in
 * every hierarchy where the cgroup exists, and fails only if it exists in none. The cgroup is
 * never created: an operator or containerd's client prepares it.
 */
export function joinCgroup(path: string, pid: number, opts: JoinOptions = {}): void {
  if (!path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`failed to load cgroup ${path}: must be an absolute path without . or .. components`);
  }
  const mode = opts.mode ?? cgroupMode(opts.root);
  if (mode === 'unified') {
    const dir = join(opts.root ?? '/sys/fs/cgroup', path);
    if (!existsSync(dir)) throw new Error(`failed to load cgroup ${path}: ${dir} does not exist`);
    addProc(path, dir, pid);
    return;
  }
  const mounts = parseCgroupMounts(opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.fstype === 'cgroup');
  const dirs = [...new Set(mounts.map((m) => join(m.mountPoint, path)))].filter((dir) => existsSync(dir));
  if (dirs.length === 0) throw new Error(`failed to load cgroup ${path}: cgroup deleted`);
  for (const dir of dirs) addProc(path, dir, pid);
}

function addProc(path: string, dir: string, pid: number): void {
  try {
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    throw new Error(`failed to join cgroup ${path}: ${(err as Error).message}`, { cause: err });
  }
}
