import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { joinCgroup } from '../../../../src/sys/cgroups/index.js';

const FIXTURE = join(__dirname, '../../../fixtures/cgroup2/ctr');

describe('joining the shim cgroup', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('v2: writes the pid to the unified cgroup\'s cgroup.procs', () => {
    dir = mkdtempSync(join(tmpdir(), 'cgj-'));
    cpSync(FIXTURE, join(dir, 'pods', 'shim'), { recursive: true });
    writeFileSync(join(dir, 'pods', 'shim', 'cgroup.procs'), '');
    joinCgroup('/pods/shim', 4242, { mode: 'unified', root: dir });
    expect(readFileSync(join(dir, 'pods', 'shim', 'cgroup.procs'), 'utf8')).toBe('4242');
  });

  it('v2: a cgroup that does not exist fails the join, naming it', () => {
    dir = mkdtempSync(join(tmpdir(), 'cgj-'));
    expect(() => joinCgroup('/nope', 1, { mode: 'unified', root: dir })).toThrow(/^failed to load cgroup \/nope: .* does not exist$/);
  });

  it('v1: joins every hierarchy where the cgroup exists, and fails only when it exists in none', () => {
    dir = mkdtempSync(join(tmpdir(), 'cgj-'));
    const mountinfo = [
      `30 25 0:26 / ${dir}/memory rw,nosuid shared:9 - cgroup cgroup rw,memory`,
      `31 25 0:27 / ${dir}/pids rw,nosuid shared:10 - cgroup cgroup rw,pids`,
      `32 25 0:28 / ${dir}/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd`,
      `33 25 0:29 / ${dir}/unified rw,nosuid shared:12 - cgroup2 cgroup2 rw`,
    ].join('\n');
    for (const h of ['memory', 'systemd', 'unified']) {
      mkdirSync(join(dir, h, 'shims'), { recursive: true });
      writeFileSync(join(dir, h, 'shims', 'cgroup.procs'), '');
    }
    mkdirSync(join(dir, 'pids'));
    joinCgroup('/shims', 77, { mode: 'v1', mountinfo });
    expect(readFileSync(join(dir, 'memory', 'shims', 'cgroup.procs'), 'utf8')).toBe('77');
    expect(readFileSync(join(dir, 'systemd', 'shims', 'cgroup.procs'), 'utf8')).toBe('77');
    // The unified hierarchy of a hybrid host is not a v1 hierarchy: untouched, as in the reference.
    expect(readFileSync(join(dir, 'unified', 'shims', 'cgroup.procs'), 'utf8')).toBe('');
    expect(() => joinCgroup('/other', 77, { mode: 'v1', mountinfo })).toThrow('failed to load cgroup /other: cgroup deleted');
  });

  it('refuses a relative path or one that climbs out with ..', () => {
    dir = mkdtempSync(join(tmpdir(), 'cgj-'));
    expect(() => joinCgroup('shims', 1, { mode: 'unified', root: dir })).toThrow(/must be an absolute path/);
    expect(() => joinCgroup('/a/../../etc', 1, { mode: 'unified', root: dir })).toThrow(/without \. or \.\. components/);
  });
});
