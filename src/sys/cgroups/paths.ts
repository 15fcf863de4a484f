import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a process's cgroup lives. v1 (also on hybrid hosts, as containerd decides): one
 * directory per controller. v2: the one directory in the unified hierarchy.
 */
export type CgroupLocation =
  | { version: 1; controllers: ReadonlyMap<string, string> }
  | { version: 2; path: string };

interface CgroupMount {
  mountPoint: string;
  root: string;
  fstype: string;
  superOptions: string[];
}

// Mount points escape space, tab, newline and backslash as octal (\040).
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const before = line.slice(0, sep).split(' ');
    const after = line.slice(sep + 3).split(' ');
    const fstype = after[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    mounts.push({
      root: unescapeMountField(before[3] ?? '/'),
      mountPoint: unescapeMountField(before[4] ?? ''),
      fstype,
      superOptions: (after[2] ?? '').split(','),
    });
  }
  return mounts;
}

// /proc/<pid>/cgroup names paths from the root of the reader's cgroup namespace; a mount
// whose root is a sub-cgroup shows only that subtree.
function dirUnder(mount: CgroupMount, cgroupPath: string): string | undefined {
  if (mount.root === '/') return join(mount.mountPoint, cgroupPath);
  if (cgroupPath === mount.root || cgroupPath.startsWith(`${mount.root}/`)) {
    return join(mount.mountPoint, cgroupPath.slice(mount.root.length));
  }
  return undefined;
}

/**
 * Resolves the cgroup of `pid` from /proc/<pid>/cgroup and this process's mountinfo. A process
 * with any v1 controller counts as v1: that is where a hybrid host's runc puts the limits.
 * `proc` is replaceable for tests.
 */
export function cgroupOfPid(pid: number, proc = '/proc'): CgroupLocation {
  // procfs: read from the kernel's memory, synchronously, on the path of every Create.
  const membership = readFileSync(join(proc, String(pid), 'cgroup'), 'utf8');
  const mountinfo = readFileSync(join(proc, 'self', 'mountinfo'), 'utf8');
  const mounts = parseCgroupMounts(mountinfo);
  const controllers = new Map<string, string>();
  let unified: string | undefined;
  for (const line of membership.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, hierarchy, names, path] = m as unknown as [string, string, string, string];
    if (hierarchy === '0' && names === '') {
      const mount = mounts.find((x) => x.fstype === 'cgroup2');
      if (mount) unified = dirUnder(mount, path);
      continue;
    }
    for (const name of names.split(',')) {
      if (name === '' || name.startsWith('name=')) continue;
      const mount = mounts.find((x) => x.fstype === 'cgroup' && x.superOptions.includes(name));
      const dir = mount && dirUnder(mount, path);
      if (dir) controllers.set(name, dir);
    }
  }
  if (controllers.size > 0) return { version: 1, controllers };
  if (unified !== undefined) return { version: 2, path: unified };
  throw new Error(`no cgroup of pid ${pid} is mounted here`);
}
