import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check } from '../../../src/shim/check.js';
import { FlagError } from '../../../src/shim/flags.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-check-'));
  const rt = join(dir, 'rt');
  writeFileSync(rt, '#!/bin/sh\necho "rt version 1.0"\n');
  chmodSync(rt, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('check', () => {
  it('aligns the runtime table, names the default runtime and counts one problem in the singular', async () => {
    const path = config('one-bad.toml', [
      'default_runtime = "good"',
      '[runtimes.good]', `binary = "${join(dir, 'rt')}"`,
      '[runtimes.missing-one]', `binary = "${join(dir, 'absent')}"`,
    ]);
    const r = await check(['-config', path], {});
    expect(r.exitCode).toBe(1);
    const lines = r.text.split('\n');
    expect(lines[0]).toBe(`config: ${path} (from -config)`);
    const header = lines.find((l) => l.startsWith('RUNTIME'))!;
    const good = lines.find((l) => l.startsWith('good '))!;
    const missing = lines.find((l) => l.startsWith('missing-one '))!;
    // Every column starts where the header's does.
    for (const col of ['DIALECT', 'BINARY', 'VERSION', 'STATUS']) {
      const at = header.indexOf(col);
      expect(good[at - 1]).toBe(' ');
      expect(good[at]).not.toBe(' ');
      expect(missing[at]).not.toBe(' ');
    }
    expect(good).toMatch(/ rt version 1\.0 +ok$/);
    expect(missing.endsWith(`runtime binary "${join(dir, 'absent')}" is missing or not executable`)).toBe(true);
    expect(r.text).toContain('\ndefault runtime: good\n');
    expect(r.text.endsWith('\n1 problem found\n')).toBe(true);
  });

  it('reads the config named by $TSSHIM_CONFIG without -config, and --config=path as well', async () => {
    const path = config('good.toml', ['[runtimes.good]', `binary = "${join(dir, 'rt')}"`]);
    const fromEnv = await check([], { TSSHIM_CONFIG: path });
    expect(fromEnv.exitCode).toBe(0);
    expect(fromEnv.text.startsWith(`config: ${path} (from $TSSHIM_CONFIG)\n`)).toBe(true);
    expect(fromEnv.text.endsWith('\nno problems found\n')).toBe(true);
    const fromFlag = await check([`--config=${path}`], {});
    expect(fromFlag.text.startsWith(`config: ${path} (from -config)\n`)).toBe(true);
  });

  it('refuses other arguments and a -config without a value as usage errors', async () => {
    await expect(check(['-id', 'x'], {})).rejects.toThrow(new FlagError('check: unexpected argument "-id" (usage: check [-config <path>])'));
    await expect(check(['-config'], {})).rejects.toThrow(new FlagError('check: flag needs an argument: -config'));
    await expect(check(['-config'], {})).rejects.toBeInstanceOf(FlagError);
  });
});
