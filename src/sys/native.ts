// The one place that loads the addon. Everything else in the project goes through src/sys.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface NativeExit {
  code: number | null;
  signal: number | null;
}

/** Opaque: an N-API External owned by the addon. */
export type EventfdWatchHandle = { readonly __eventfdWatch: unique symbol };
/** Opaque: an N-API External owned by the addon. */
export type SpliceHandle = { readonly __spliceCopy: unique symbol };

export interface Native {
  setChildSubreaper(): void;
  isChildSubreaper(): boolean;
  waitpidNoHang(pid: number): NativeExit | null;
  pipe2(): { readFd: number; writeFd: number };
  bytesQueued(fd: number): number;
  getPeerCred(fd: number): { pid: number; uid: number; gid: number };
  setWinsize(fd: number, rows: number, cols: number): void;
  eventfd(): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount2(target: string, flags: number): void;
  recvFd(socketFd: number, cb: (err: Error | null, fd: number, name: string) => void): void;
  watchEventfd(fd: number, cb: (err: Error | null, count: number) => void): EventfdWatchHandle;
  drainEventfd(watch: EventfdWatchHandle): number;
  closeEventfdWatch(watch: EventfdWatchHandle): void;
  /** vfork + exec: argv includes argv[0]; an fd of -1 is /dev/null. Returns the pid. */
  spawn(file: string, argv: readonly string[], envp: readonly string[], cwd: string | null, fds: readonly number[]): number;
  spliceCopy(srcFd: number, dstFd: number, onEnd: (err: Error | null, bytes: number) => void): SpliceHandle;
  spliceStatus(copy: SpliceHandle): { bytes: number; queued: number; ended: boolean };
  closeSpliceCopy(copy: SpliceHandle): void;
  /** malloc_trim(0): whether any memory went back to the kernel. */
  trimMalloc(): boolean;
  constants: Record<
    | 'MS_RDONLY' | 'MS_NOSUID' | 'MS_NODEV' | 'MS_NOEXEC' | 'MS_SYNCHRONOUS' | 'MS_REMOUNT'
    | 'MS_MANDLOCK' | 'MS_DIRSYNC' | 'MS_NOATIME' | 'MS_NODIRATIME' | 'MS_BIND' | 'MS_REC'
    | 'MS_UNBINDABLE' | 'MS_PRIVATE' | 'MS_SLAVE' | 'MS_SHARED' | 'MS_RELATIME'
    | 'MS_STRICTATIME' | 'MS_LAZYTIME' | 'MNT_FORCE' | 'MNT_DETACH' | 'MNT_EXPIRE'
    | 'UMOUNT_NOFOLLOW',
    number
  >;
}

// The addon lives in <project root>/build/Release. This file runs from src/sys (tests) or
// from the bundle in dist/, so the root is found by walking up to package.json rather than
// by a fixed relative path. __dirname exists in both (the bundle is CommonJS and vitest
// provides it); import.meta would be emptied by the CommonJS bundle.
function projectRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

let addonRoot: string | undefined;
let loaded: Native | undefined;

/**
 * Where the addon is loaded from, for a process whose code does not sit in the project tree:
 * the packaged daemon runs from a V8 start-up snapshot, whose `__dirname` is the build machine's.
 */
export function setAddonRoot(root: string): void {
  addonRoot = root;
}

/** Whether anything has used the addon yet (a start-up snapshot must be built without it). */
export function addonLoaded(): boolean {
  return loaded !== undefined;
}

function loadNative(): Native {
  if (!loaded) {
    const module = { exports: {} as Native };
    process.dlopen(module, join(addonRoot ?? projectRoot(), 'build', 'Release', 'tsshim_native.node'));
    loaded = module.exports;
  }
  return loaded;
}

/**
 * The addon, loaded on first use: a start-up snapshot is built without it (an addon cannot be
 * serialized), and `start` and `delete` often need none of it.
 */
export const native: Native = new Proxy({} as Native, { get: (_target, key) => Reflect.get(loadNative(), key) });
