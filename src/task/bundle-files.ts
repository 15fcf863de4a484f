import { closeSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedRuntime } from '../runtime/select.js';

/**
 * Everything tsshim keeps in a task's bundle directory, by name. Nothing else in the shim builds
 * one of these paths: the daemon writes them, the `start` and `delete` actions read them, and a
 * shim that died leaves them for `delete` to report from.
 *
 * | file                  | written by                   | read by                              |
 * | --------------------- | ---------------------------- | ------------------------------------ |
 * | `address`             | `start`                      | containerd 1.6/1.7 reconnect, delete |
 * | `init.pid`            | the runtime (`--pid-file`)   | the daemon at create, `delete`       |
 * | `<exec-id>.pid`       | the runtime (`--pid-file`)   | the daemon at exec start             |
 * | `init.exit.json`      | the daemon, before the exit is reported | `delete` after a shim crash |
 * | `tsshim-runtime.json` | the daemon at create, removed at delete | `delete` after a shim crash |
 *
 * Every call here is synchronous. These are small files in containerd's state directory, each
 * read or written on the path of a Create, an exec's Start, an exit or a Delete: a few
 * microseconds of the event loop's time each (stat 4 µs, read 9, write 54, rename 21, unlink
 * 11 on ext4), where a trip through libuv's thread pool waits 0.06 ms on an idle machine and
 * 0.3–0.6 ms on a busy one, and those paths held four to nine such trips in a row
 * (docs/design-notes.md, "Small files on the event loop").
 */
/** More than any pid file holds: a pid and perhaps a newline. */
const PID_FILE_MAX = 64;

const BUNDLE_FILES = {
  address: 'address',
  initPid: 'init.pid',
  initExit: 'init.exit.json',
  runtime: 'tsshim-runtime.json',
} as const;

export const initPidPath = (bundle: string): string => join(bundle, BUNDLE_FILES.initPid);
export const execPidPath = (bundle: string, execId: string): string => join(bundle, `${execId}.pid`);

/** The exit status of the init, kept so that `delete` after a shim crash reports the real one. */
export interface InitExitFile {
  pid: number;
  status: number;
  /** ISO 8601. */
  exitedAt: string;
}

/** The chosen runtime, kept so that `delete` after a shim crash can have it delete the container. */
export interface RuntimeFile {
  namespace: string;
  runtime: ResolvedRuntime;
}

// Written to a temporary name and renamed, so a reader never sees half a file.
function writeAtomicSync(path: string, data: string, mode = 0o600): void {
  writeFileSync(`${path}.tmp`, data, { mode });
  renameSync(`${path}.tmp`, path);
}

function readJsonSync<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function parsePid(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * containerd writes the OCI spec (`config.json`); a beforeCreate hook that changes it has it
 * replaced here, before the runtime reads it.
 */
export function writeOciSpecSync(bundle: string, spec: Record<string, unknown>): void {
  writeAtomicSync(join(bundle, 'config.json'), JSON.stringify(spec), 0o644);
}

/** A pid file the runtime wrote; a missing or malformed one is an error. */
export function readPidFileSync(path: string): number {
  // One read of a small buffer: the runtime writes the file whole (to a temporary name, then
  // renamed), and a pid has at most a few digits.
  const fd = openSync(path, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(PID_FILE_MAX);
    const bytesRead = readSync(fd, buf, 0, buf.length, 0);
    text = buf.toString('utf8', 0, bytesRead);
  } finally {
    closeSync(fd);
  }
  const pid = parsePid(text);
  if (pid === undefined) throw new Error(`invalid pid ${JSON.stringify(text)} in ${path}`);
  return pid;
}

export function readInitPidSync(bundle: string): number | undefined {
  try {
    return parsePid(readFileSync(initPidPath(bundle), 'utf8'));
  } catch {
    return undefined;
  }
}

export function removeExecPidFileSync(bundle: string, execId: string): void {
  rmSync(execPidPath(bundle, execId), { force: true });
}

export function writeInitExitSync(bundle: string, exit: InitExitFile): void {
  writeAtomicSync(join(bundle, BUNDLE_FILES.initExit), JSON.stringify(exit));
}

export function readInitExitSync(bundle: string): InitExitFile | undefined {
  return readJsonSync<InitExitFile>(join(bundle, BUNDLE_FILES.initExit));
}

export function writeRuntimeFileSync(bundle: string, record: RuntimeFile): void {
  writeAtomicSync(join(bundle, BUNDLE_FILES.runtime), JSON.stringify(record));
}

export function readRuntimeFileSync(bundle: string): RuntimeFile | undefined {
  return readJsonSync<RuntimeFile>(join(bundle, BUNDLE_FILES.runtime));
}

export function removeRuntimeFileSync(bundle: string): void {
  rmSync(join(bundle, BUNDLE_FILES.runtime), { force: true });
}

/** containerd 1.6/1.7 read <bundle>/address to reconnect after a restart; it holds exactly the address. */
export function writeAddressSync(bundle: string, address: string): void {
  writeAtomicSync(join(bundle, BUNDLE_FILES.address), address);
}

export function readAddressSync(bundle: string): string | undefined {
  try {
    return readFileSync(join(bundle, BUNDLE_FILES.address), 'utf8').trim();
  } catch {
    return undefined;
  }
}
