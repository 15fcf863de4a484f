import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_U64, parseU64, readFlatKeyed, readOptional, readU64 } from '../../../../src/sys/cgroups/files.js';

const FIXTURE = join(__dirname, '../../../fixtures/cgroup2/ctr');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-cgfiles-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseU64', () => {
  it('reads counters exactly, beyond 2^53', () => {
    expect(parseU64('18446744073709551615\n', 'f')).toBe(MAX_U64);
    expect(parseU64(' 9007199254740993 ', 'f')).toBe(9007199254740993n);
  });

  it('reads v1\'s -1 as 0 and clamps values past 2^64-1', () => {
    expect(parseU64('-1', 'f')).toBe(0n);
    expect(parseU64('18446744073709551616', 'f')).toBe(MAX_U64);
  });

  it('refuses text that is not an integer, naming the file', () => {
    expect(() => parseU64('12k', '/cg/memory.max')).toThrow('cannot parse "12k" in /cg/memory.max as an unsigned integer');
  });
});

describe('reading cgroup files', () => {
  it('reads a single value and maps "max" to the given limit', async () => {
    expect(await readU64(join(FIXTURE, 'memory.max'))).toBe(33554432n);
    expect(await readU64(join(FIXTURE, 'pids.max'), MAX_U64)).toBe(MAX_U64);
    await expect(readU64(join(FIXTURE, 'pids.max'))).rejects.toThrow(/cannot parse "max"/);
  });

  it('reads a flat-keyed file into a map', async () => {
    const stat = await readFlatKeyed(join(FIXTURE, 'cpu.stat'));
    expect(stat?.get('usage_usec')).toBe(2345678n);
    expect(stat?.get('user_usec')).toBe(1345678n);
    expect(stat?.get('system_usec')).toBe(1000000n);
  });

  it('refuses a flat-keyed line that is not "key value"', async () => {
    writeFileSync(join(dir, 'bad.stat'), 'a 1\nb 2 3\n');
    await expect(readFlatKeyed(join(dir, 'bad.stat'))).rejects.toThrow(/unexpected line "b 2 3"/);
  });

  it('gives undefined for a file that is not there, and throws other errors', async () => {
    expect(await readOptional(join(FIXTURE, 'rdma.current'))).toBeUndefined();
    expect(await readU64(join(dir, 'absent'))).toBeUndefined();
    expect(await readFlatKeyed(join(dir, 'absent', 'memory.stat'))).toBeUndefined();
    await expect(readOptional(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
