// Task options that reach the shim outside Create: Options.shim_cgroup arrives on `start`'s stdin
// (the daemon moves itself into that cgroup before reporting its address), and the legacy
// containerd.linux.runc.CreateOptions that containerd's 1.6 client sends to non-runc runtimes.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerd, google } from '../../src/api/gen/proto.js';
import { TtrpcClient } from '../../src/ttrpc/index.js';
import { packagedShimDir, skipUnlessRoot, uniqueId } from './harness/index.js';
import { startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

const SHIM = join(packagedShimDir(), 'containerd-shim-tsshim-v2');
const T = containerd.task.v2;

function start(cwd: string, id: string, env: Record<string, string>, input: Uint8Array): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(SHIM, ['-namespace', 'ns1', '-id', id, '-address', '/fake/c.sock', 'start'], { cwd, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input);
  });
}

/** The v1 hierarchies of this host (a directory per controller, plus name=systemd). */
function v1Hierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup cgroup /.test(l))
    .map((l) => l.split(' ')[4]!);
}

function cgroupsOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
}

const v1Host = existsSync('/sys/fs/cgroup/memory/cgroup.procs');

describe.skipIf(skipUnlessRoot() || !v1Host)('Options.shim_cgroup on this cgroup v1 host', () => {
  let dir: string;
  let cgroup: string;
  const daemons: number[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg-'));
    cgroup = `/tsshim-test-${process.pid}-${Date.now()}`;
    for (const h of v1Hierarchies()) {
      mkdirSync(join(h, cgroup));
      // A new cpuset cgroup has no cpus or mems, and no task can join it until it has.
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (existsSync(join(h, f))) writeFileSync(join(h, cgroup, f), readFileSync(join(h, f)));
      }
    }
  });
  afterAll(async () => {
    // Any daemon started from our bundles, including one a failing start should not have left.
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        if (readlinkSync(`/proc/${entry}/cwd`).startsWith(dir)) daemons.push(Number(entry));
      } catch {
        // gone, or not ours to read
      }
    }
    for (const pid of daemons) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const end = Date.now() + 10_000;
    for (const h of v1Hierarchies()) {
      while (existsSync(join(h, cgroup))) {
        try {
          rmdirSync(join(h, cgroup));
        } catch (err) {
          if (Date.now() > end) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, google.protobuf.IAny]> = [
    ['containerd.runc.v1.Options', { typeUrl: 'containerd.runc.v1.Options', value: new Uint8Array() }],
    ['the legacy containerd.linux.runc.CreateOptions', { typeUrl: 'containerd.linux.runc.CreateOptions', value: new Uint8Array() }],
  ];
  it.each(cases)('start with %s moves the daemon into the shim cgroup in every v1 hierarchy', async (_name, any) => {
    const id = uniqueId('cg');
    const b = join(dir, id);
    mkdirSync(b);
    writeFileSync(join(b, 'config.json'), '{}');
    const value = any.typeUrl === 'containerd.runc.v1.Options'
      ? containerd.runc.v1.Options.encode({ shimCgroup: cgroup }).finish()
      : containerd.linux.runc.CreateOptions.encode({ shimCgroup: cgroup, noPivotRoot: true }).finish();
    const r = await start(b, id, { TSSHIM_SOCKET_DIR: join(dir, 's') }, google.protobuf.Any.encode({ typeUrl: any.typeUrl, value }).finish());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const client = await TtrpcClient.connect(r.stdout.slice('unix://'.length));
    try {
      const { shimPid } = T.ConnectResponse.decode(await client.call('containerd.task.v2.Task', 'Connect', T.ConnectRequest.encode({ id }).finish()));
      daemons.push(shimPid);
      const lines = cgroupsOf(shimPid);
      for (const controller of ['memory', 'pids', 'cpu', 'name=systemd']) {
        expect(lines.find((l) => l.split(':')[1]!.split(',').includes(controller)), controller).toMatch(new RegExp(`:${cgroup}$`));
      }
      expect(readFileSync(join('/sys/fs/cgroup/memory', cgroup, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(shimPid));
      await client.call('containerd.task.v2.Task', 'Shutdown', T.ShutdownRequest.encode({ id }).finish());
    } finally {
      client.close();
    }
  });

  it('a shim cgroup that does not exist fails start with the reason, and leaves no daemon', async () => {
    const id = uniqueId('cgx');
    const b = join(dir, id);
    mkdirSync(b);
    writeFileSync(join(b, 'config.json'), '{}');
    const value = containerd.runc.v1.Options.encode({ shimCgroup: `${cgroup}-missing` }).finish();
    const socketDir = join(dir, 'sx');
    const r = await start(b, id, { TSSHIM_SOCKET_DIR: socketDir }, google.protobuf.Any.encode({ typeUrl: 'containerd.runc.v1.Options', value }).finish());
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`failed to load cgroup ${cgroup}-missing: cgroup deleted`);
    expect(existsSync(socketDir) ? readdirSync(socketDir) : []).toEqual([]);
  });
});

describe.skipIf(skipUnlessRoot())('task options from ctr', () => {
  let env: TsshimEnv;
  beforeAll(async () => {
    // Debug level: the shim logs each runtime command line.
    env = await startTsshimEnv({ start: { debug: true } });
  });
  afterAll(async () => {
    await env?.stop();
  });

  // ctr --no-pivot uses the client's WithNoPivotRoot, which on 1.6 and 1.7 sends the legacy
  // CreateOptions to a runtime not named io.containerd.runc.*.
  it('ctr run --no-pivot runs the task with runc create --no-pivot', async () => {
    const id = uniqueId('np');
    const r = await env.run(id, ['echo', 'pivotless'], { flags: ['--no-pivot'] });
    expect(r.stderr.toString()).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('pivotless\n');
    const create = env.c.logs().split('\n').find((l) => l.includes('runtime invocation') && l.includes('"create"') && l.includes(`"${id}"]`));
    expect(create).toBeDefined();
    expect(JSON.parse(create!).argv).toContain('--no-pivot');
  });
});
