import { readFileSync, realpathSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { native } from './native.js';

export interface MountSpec {
  type: string;
  source: string;
  /** A path inside the rootfs (containerd 1.7+); empty or absent means the rootfs itself. */
  target?: string;
  /** fstab-style options: flags such as ro or nosuid, anything else goes to the filesystem. */
  options: string[];
}

export interface ParsedOptions {
  flags: number;
  /** Propagation changes (shared, rprivate, …) need a mount call of their own. */
  propagation: number;
  data: string;
}

// [clears the flag, flag]: the same table as containerd's mount_linux.go, so mounts that
// containerd hands the shim mean here what they mean to the Go shim. Built on first use from the addon's constants: the module is evaluated into the daemon's
// start-up snapshot, where the addon cannot be loaded.
let tables: { flags: Record<string, [boolean, number]>; propagation: Record<string, number> } | undefined;

function optionTables(): NonNullable<typeof tables> {
  if (tables) return tables;
  const C = native.constants;
  const flags: Record<string, [boolean, number]> = {
    async: [true, C.MS_SYNCHRONOUS],
    atime: [true, C.MS_NOATIME],
    bind: [false, C.MS_BIND],
    defaults: [false, 0],
    dev: [true, C.MS_NODEV],
    diratime: [true, C.MS_NODIRATIME],
    dirsync: [false, C.MS_DIRSYNC],
    exec: [true, C.MS_NOEXEC],
    lazytime: [false, C.MS_LAZYTIME],
    mand: [false, C.MS_MANDLOCK],
    noatime: [false, C.MS_NOATIME],
    nodev: [false, C.MS_NODEV],
    nodiratime: [false, C.MS_NODIRATIME],
    noexec: [false, C.MS_NOEXEC],
    nolazytime: [true, C.MS_LAZYTIME],
    nomand: [true, C.MS_MANDLOCK],
    norelatime: [true, C.MS_RELATIME],
    nostrictatime: [true, C.MS_STRICTATIME],
    nosuid: [false, C.MS_NOSUID],
    rbind: [false, C.MS_BIND | C.MS_REC],
    relatime: [false, C.MS_RELATIME],
    remount: [false, C.MS_REMOUNT],
    ro: [false, C.MS_RDONLY],
    rw: [true, C.MS_RDONLY],
    strictatime: [false, C.MS_STRICTATIME],
    suid: [true, C.MS_NOSUID],
    sync: [false, C.MS_SYNCHRONOUS],
  };
  const propagation: Record<string, number> = {
    private: C.MS_PRIVATE,
    rprivate: C.MS_PRIVATE | C.MS_REC,
    shared: C.MS_SHARED,
    rshared: C.MS_SHARED | C.MS_REC,
    slave: C.MS_SLAVE,
    rslave: C.MS_SLAVE | C.MS_REC,
    unbindable: C.MS_UNBINDABLE,
    runbindable: C.MS_UNBINDABLE | C.MS_REC,
  };
  tables = { flags, propagation };
  return tables;
}

/** Splits fstab-style options into MS_* flags, propagation flags and the filesystem's data string. */
export function parseMountOptions(options: readonly string[]): ParsedOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  const { flags: FLAGS, propagation: PROPAGATION } = optionTables();
  for (const option of options) {
    const flag = FLAGS[option];
    if (flag) {
      const [clear, bits] = flag;
      flags = clear ? flags & ~bits : flags | bits;
    } else if (option in PROPAGATION) {
      propagation |= PROPAGATION[option]!;
    } else if (option === 'loop') {
      // containerd sets up a loop device for these; nothing here does yet.
      throw Object.assign(new Error('mount option "loop" is not supported'), { code: 'ENOTSUP' });
    } else {
      data.push(option);
    }
  }
  return { flags: flags >>> 0, propagation: propagation >>> 0, data: data.join(',') };
}

export function mount(source: string, target: string, fstype: string, flags: number, data: string): void {
  native.mount(source, target, fstype, flags, data);
}

export function unmount(target: string, flags = 0): void {
  native.umount2(target, flags);
}

/** Mounts one containerd mount at `target`, in the same steps as containerd's Go code. */
function mountOne(m: Pick<MountSpec, 'type' | 'source' | 'options'>, target: string): void {
  const { flags, propagation, data } = parseMountOptions(m.options);
  // A pure remount with no data changes nothing the first call could do.
  const C = native.constants;
  if (!(flags & C.MS_REMOUNT) || data !== '') mount(m.source, target, m.type, flags, data);
  if (propagation) mount('', target, '', propagation | (flags & C.MS_REC), '');
  // The kernel ignores MS_RDONLY on the initial bind; read-only binds need a remount.
  const bindRo = C.MS_BIND | C.MS_RDONLY;
  if ((flags & bindRo) === bindRo) mount('', target, '', flags | C.MS_REMOUNT, '');
}

/**
 * Mounts containerd's rootfs mounts in order onto `rootfs`. All or nothing: if one fails,
 * those already mounted are unmounted again before the error is rethrown.
 */
export function mountAll(mounts: readonly MountSpec[], rootfs: string): void {
  const done: string[] = [];
  try {
    for (const m of mounts) {
      const target = m.target ? resolveInside(rootfs, m.target) : rootfs;
      mountOne(m, target);
      done.push(target);
    }
  } catch (err) {
    for (const target of done.reverse()) {
      try {
        unmount(target, native.constants.MNT_DETACH);
      } catch {
        // The original failure is the one worth reporting.
      }
    }
    throw err;
  }
}

// Lexically, like containerd's fs.RootPath for a path that does not exist yet: ".." cannot
// climb out of the rootfs.
function resolveInside(rootfs: string, sub: string): string {
  return join(rootfs, normalize(`/${sub}`));
}

/**
 * Unmounts `target` and everything mounted below it, deepest first, and stacked mounts
 * topmost first. A target that does not exist or is not a mount point is not an error.
 * Tries every mount before throwing the first failure, so one busy mount does not leave
 * the rest in place.
 */
export function unmountRecursive(target: string, flags = 0): void {
  let root: string;
  try {
    root = realpathSync.native(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const points = mountPoints()
    .map((path, order) => ({ path, order, depth: path.split('/').length }))
    .filter((p) => p.path === root || p.path.startsWith(prefix))
    .sort((a, b) => b.depth - a.depth || b.order - a.order);
  let first: unknown;
  for (const { path } of points) {
    try {
      unmount(path, flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') first ??= err;
    }
  }
  if (first) throw first;
}

// Mount points in mount order, from /proc/self/mountinfo (field 5, octal-escaped).
function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line)
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
}
