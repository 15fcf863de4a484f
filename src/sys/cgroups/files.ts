import { promises as fsp, readFileSync } from 'node:fs';

/** cgroup files hold unsigned 64-bit counters; bigint keeps them exact. */
export type U64 = bigint;

export const MAX_U64 = (1n << 64n) - 1n;

/** The container's cgroup is gone (deleted, or never created where we looked). */
export class CgroupGoneError extends Error {
  readonly code = 'ENOENT';
  constructor(where: string) {
    super(`cgroup ${where} does not exist`);
  }
}

/**
 * A cgroup file's text, or undefined when the file (or its whole cgroup) is not there: a
 * controller that is not enabled, or a cgroup removed while we read it, which makes open
 * fail with ENOENT and a read of an already open file with ENODEV.
 */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (err) {
    return absent(err);
  }
}

/** readOptional, synchronously: for the one file read on every init exit (memory.events). */
export function readOptionalSync(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return absent(err);
  }
}

function absent(err: unknown): undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENODEV') return undefined;
  throw err;
}

/**
 * A counter as the kernel prints it. Negative values (v1 prints -1 for "unset" in a few files)
 * read as 0, as containerd's cgroups library does.
 */
export function parseU64(text: string, path: string): U64 {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new Error(`cannot parse ${JSON.stringify(t)} in ${path} as an unsigned integer`);
  const v = BigInt(t);
  if (v < 0n) return 0n;
  return v > MAX_U64 ? MAX_U64 : v;
}

/** A single-value file; `max` (v2's "no limit") reads as `maxValue`. */
export async function readU64(path: string, maxValue?: U64): Promise<U64 | undefined> {
  const text = await readOptional(path);
  if (text === undefined) return undefined;
  if (maxValue !== undefined && text.trim() === 'max') return maxValue;
  return parseU64(text, path);
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control, …). */
function parseFlatKeyed(text: string, path: string): Map<string, U64> {
  const out = new Map<string, U64>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== 2) throw new Error(`unexpected line ${JSON.stringify(line)} in ${path}`);
    out.set(fields[0]!, parseU64(fields[1]!, path));
  }
  return out;
}

export async function readFlatKeyed(path: string): Promise<Map<string, U64> | undefined> {
  const text = await readOptional(path);
  return text === undefined ? undefined : parseFlatKeyed(text, path);
}

export function readFlatKeyedSync(path: string): Map<string, U64> | undefined {
  const text = readOptionalSync(path);
  return text === undefined ? undefined : parseFlatKeyed(text, path);
}
