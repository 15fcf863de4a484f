// What the benchmark and soak scripts share: their `--name N` options, medians, and figures of a
// process read from /proc.
import { readdirSync, readFileSync } from 'node:fs';

/** The number after `--name` on the command line, else the default. */
export function numberOption(name: string, def: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}

/** NaN for no figures. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Pids whose command line contains every one of `parts`. */
export function pidsMatching(...parts: string[]): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (parts.every((p) => cmd.includes(p))) pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** RSS and PSS in MiB, from smaps_rollup. */
export function memoryMiB(pid: number): { rss: number; pss: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss') / 1024, pss: kb('Pss') / 1024 };
}
