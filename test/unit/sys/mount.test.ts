import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mountAll, parseMountOptions, unmount, unmountRecursive } from '../../../src/sys/index.js';
import { needsRoot } from './oci-bundle.js';

const MS_RDONLY = 0x1;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;
const MS_REMOUNT = 0x20;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_PRIVATE = 0x40000;
const MS_RELATIME = 0x200000;

// mount point -> mount options, for the mounts under `dir`
function mountsUnder(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields[4]?.startsWith(dir)) found.set(fields[4], fields[5]!);
  }
  return found;
}

describe('parseMountOptions', () => {
  it('turns fstab flags into MS_* bits and keeps the rest as filesystem data, in order', () => {
    expect(parseMountOptions(['rbind', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime'])).toEqual({
      flags: MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
      propagation: 0,
      data: '',
    });
    expect(parseMountOptions(['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w', 'index=off'])).toEqual({
      flags: 0,
      propagation: 0,
      data: 'lowerdir=/a:/b,upperdir=/u,workdir=/w,index=off',
    });
  });

  it('lets a later option undo an earlier one', () => {
    expect(parseMountOptions(['ro', 'rw', 'nosuid', 'suid', 'remount']).flags).toBe(MS_REMOUNT);
  });

  it('keeps propagation changes apart from the mount flags', () => {
    expect(parseMountOptions(['bind', 'rprivate', 'size=1m'])).toEqual({
      flags: MS_BIND,
      propagation: MS_PRIVATE | MS_REC,
      data: 'size=1m',
    });
  });

  it('refuses loop mounts rather than mounting the image file wrongly', () => {
    expect(() => parseMountOptions(['loop', 'ro'])).toThrow(expect.objectContaining({ code: 'ENOTSUP' }));
  });
});

describe.skipIf(!needsRoot())('mountAll and unmountRecursive (needs root)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-mount-'));
  });
  afterEach(() => {
    try {
      unmountRecursive(dir);
    } catch {
      execFileSync('umount', ['-R', '-l', dir], { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('mounts a read-only bind and a tmpfs below it, then unmounts both deepest first', () => {
    const source = join(dir, 'source');
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(source, 'tmp'), { recursive: true });
    mkdirSync(rootfs);
    writeFileSync(join(source, 'hello'), 'from the source');

    mountAll(
      [
        { type: 'bind', source, options: ['rbind', 'ro'] },
        { type: 'tmpfs', source: 'tmpfs', target: '/tmp', options: ['nosuid', 'nodev', 'size=1m', 'mode=755'] },
      ],
      rootfs,
    );

    const mounts = mountsUnder(rootfs);
    expect([...mounts.keys()].sort()).toEqual([rootfs, join(rootfs, 'tmp')]);
    expect(mounts.get(rootfs)!.split(',')).toContain('ro');
    expect(mounts.get(join(rootfs, 'tmp'))!.split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev']));
    expect(readFileSync(join(rootfs, 'hello'), 'utf8')).toBe('from the source');
    expect(() => writeFileSync(join(rootfs, 'new'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    writeFileSync(join(rootfs, 'tmp', 'scratch'), 'x');
    expect(existsSync(join(source, 'tmp', 'scratch'))).toBe(false);

    unmountRecursive(rootfs);
    expect(mountsUnder(rootfs).size).toBe(0);
    expect(existsSync(join(rootfs, 'hello'))).toBe(false);
  });

  it('mounts an overlay from lowerdir/upperdir/workdir options', () => {
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'lower', 'base'), 'lower');
    mountAll(
      [
        {
          type: 'overlay',
          source: 'overlay',
          options: [`lowerdir=${join(dir, 'lower')}`, `upperdir=${join(dir, 'upper')}`, `workdir=${join(dir, 'work')}`],
        },
      ],
      join(dir, 'merged'),
    );
    expect(readFileSync(join(dir, 'merged', 'base'), 'utf8')).toBe('lower');
    writeFileSync(join(dir, 'merged', 'added'), 'upper');
    expect(existsSync(join(dir, 'upper', 'added'))).toBe(true);
    unmountRecursive(join(dir, 'merged'));
    expect(mountsUnder(dir).size).toBe(0);
  });

  it('undoes the mounts already made when a later one fails', () => {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    expect(() =>
      mountAll(
        [
          { type: 'tmpfs', source: 'tmpfs', options: [] },
          { type: 'tmpfs', source: 'tmpfs', target: '/missing', options: [] },
        ],
        rootfs,
      ),
    ).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'mount' }));
    expect(mountsUnder(rootfs).size).toBe(0);
  });

  it('keeps a target inside the rootfs even when it climbs with ..', () => {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    mountAll([{ type: 'tmpfs', source: 'tmpfs', target: '../../etc', options: [] }], rootfs);
    expect([...mountsUnder(dir).keys()]).toEqual([join(rootfs, 'etc')]);
  });

  it('treats a path that is missing or not a mount point as already unmounted', () => {
    expect(() => unmountRecursive(join(dir, 'nothing-here'))).not.toThrow();
    expect(() => unmountRecursive(dir)).not.toThrow();
  });

  it('reports a failed unmount with the errno name', () => {
    expect(() => unmount(join(dir, 'nothing-here'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'umount2', errno: -2 }));
  });
});
