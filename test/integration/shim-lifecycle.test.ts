import { execFile, execFileSync } from 'node:child_process';
import { constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerd, google } from '../../src/api/gen/proto.js';
import { TtrpcClient } from '../../src/ttrpc/index.js';
import { eventContainerId, packagedShimDir, skipUnlessRoot, uniqueId } from './harness/index.js';
import { eventually } from './task-helpers.js';
import { RUNTIME, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';

const SHIM = join(packagedShimDir(), 'containerd-shim-tsshim-v2');

function runShim(
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; input?: Uint8Array },
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(SHIM, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'buffer' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() });
    });
    // As containerd does: `start` reads the runtime options from stdin until EOF.
    child.stdin!.end(opts.input ?? new Uint8Array(0));
  });
}

describe.skipIf(skipUnlessRoot())('the shim binary by hand', () => {
  let dir: string;
  let socketDir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-bin-'));
    socketDir = join(dir, 's');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function bundle(name: string, annotations: Record<string, string> = {}): string {
    const b = join(dir, name);
    rmSync(b, { recursive: true, force: true });
    mkdirSync(b);
    writeFileSync(join(b, 'config.json'), JSON.stringify({ annotations }));
    return b;
  }

  it('start prints only the unix:// address, writes it to the address file, and the daemon serves it until Shutdown', async () => {
    const b = bundle('b1');
    const env = { TSSHIM_SOCKET_DIR: socketDir };
    const r = await runShim(['-namespace', 'ns1', '-id', 'b1', '-address', '/fake/containerd.sock', 'start'], { cwd: b, env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const address = r.stdout.toString();
    expect(address).toMatch(new RegExp(`^unix://${socketDir}/[0-9a-f]{64}$`));
    expect(readFileSync(join(b, 'address'), 'utf8')).toBe(address);

    const sock = address.slice('unix://'.length);
    const client = await TtrpcClient.connect(sock);
    try {
      const res = containerd.task.v2.ConnectResponse.decode(
        await client.call('containerd.task.v3.Task', 'Connect', containerd.task.v2.ConnectRequest.encode({ id: 'b1' }).finish()),
      );
      expect(res.shimPid).toBeGreaterThan(0);
      expect(res.taskPid).toBe(0);
      await expect(
        client.call('containerd.task.v2.Task', 'State', containerd.task.v2.StateRequest.encode({ id: 'nope' }).finish()),
      ).rejects.toMatchObject({ code: 5, message: 'container not created: not found' });

      // A second task of the same group is served by the same daemon.
      const b2 = bundle('b2');
      const grouped = await runShim(['-namespace', 'ns1', '-id', 'b1', '-address', '/fake/containerd.sock', 'start'], { cwd: b2, env });
      expect(grouped.stdout.toString()).toBe(address);

      await client.call('containerd.task.v2.Task', 'Shutdown', containerd.task.v2.ShutdownRequest.encode({ id: 'b1' }).finish());
      const end = Date.now() + 10_000;
      while (existsSync(`/proc/${res.shimPid}`) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(`/proc/${res.shimPid}`)).toBe(false);
      expect(existsSync(sock)).toBe(false);
    } finally {
      client.close();
    }
  });

  it('tasks with the same group annotation get the same address', async () => {
    const env = { TSSHIM_SOCKET_DIR: socketDir };
    const a = await runShim(['-namespace', 'ns1', '-id', 'g1', '-address', '/fake/c.sock', 'start'], { cwd: bundle('g1', { 'io.containerd.runc.v2.group': 'grp' }), env });
    const b = await runShim(['-namespace', 'ns1', '-id', 'g2', '-address', '/fake/c.sock', 'start'], { cwd: bundle('g2', { 'io.containerd.runc.v2.group': 'grp' }), env });
    expect(a.code).toBe(0);
    expect(b.stdout.toString()).toBe(a.stdout.toString());
    const client = await TtrpcClient.connect(a.stdout.toString().slice('unix://'.length));
    await client.call('containerd.task.v2.Task', 'Shutdown', new Uint8Array());
    client.close();
  });

  it('concurrent starts of one group bind once: all report one address, one daemon serves it', async () => {
    const env = { TSSHIM_SOCKET_DIR: socketDir };
    const starts = await Promise.all(['c1', 'c2', 'c3'].map((id) =>
      runShim(['-namespace', 'ns1', '-id', id, '-address', '/fake/race.sock', 'start'], { cwd: bundle(id, { 'io.containerd.runc.v2.group': 'race' }), env })));
    for (const r of starts) expect(r.code).toBe(0);
    const addresses = new Set(starts.map((r) => r.stdout.toString()));
    expect(addresses.size).toBe(1);
    const address = [...addresses][0]!;
    for (const id of ['c1', 'c2', 'c3']) expect(readFileSync(join(dir, id, 'address'), 'utf8')).toBe(address);
    const client = await TtrpcClient.connect(address.slice('unix://'.length));
    try {
      const { shimPid } = containerd.task.v2.ConnectResponse.decode(
        await client.call('containerd.task.v2.Task', 'Connect', containerd.task.v2.ConnectRequest.encode({ id: 'c1' }).finish()),
      );
      // Only the daemon that bound the socket is left: the other two exit once they have reported
      // (a moment after the address reached the caller).
      const daemons = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('/fake/race.sock') && readFileSync(`/proc/${p}/environ`, 'utf8').includes(socketDir);
        } catch {
          return false;
        }
      });
      await eventually(() => daemons().length === 1).catch(() => undefined);
      expect(daemons()).toEqual([String(shimPid)]);
      await client.call('containerd.task.v2.Task', 'Shutdown', new Uint8Array());
    } finally {
      client.close();
    }
  });

  it('start takes over the socket file of a daemon that was killed', async () => {
    const env = { TSSHIM_SOCKET_DIR: socketDir };
    const args = ['-namespace', 'ns1', '-id', 'k1', '-address', '/fake/kill.sock', 'start'];
    const first = await runShim(args, { cwd: bundle('k1'), env });
    const sock = first.stdout.toString().slice('unix://'.length);
    const connect = async () => {
      const client = await TtrpcClient.connect(sock);
      try {
        return containerd.task.v2.ConnectResponse.decode(
          await client.call('containerd.task.v2.Task', 'Connect', containerd.task.v2.ConnectRequest.encode({ id: 'k1' }).finish()),
        ).shimPid;
      } finally {
        client.close();
      }
    };
    const dead = await connect();
    process.kill(dead, 'SIGKILL');
    while (existsSync(`/proc/${dead}`)) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(sock)).toBe(true);
    const second = await runShim(args, { cwd: bundle('k1'), env });
    expect(second.code).toBe(0);
    expect(second.stdout.toString()).toBe(first.stdout.toString());
    const alive = await connect();
    expect(alive).not.toBe(dead);
    const client = await TtrpcClient.connect(sock);
    await client.call('containerd.task.v2.Task', 'Shutdown', new Uint8Array());
    client.close();
  });

  it('delete with nothing to clean up succeeds, twice, and prints only a DeleteResponse', async () => {
    const b = bundle('d1');
    for (let i = 0; i < 2; i++) {
      const r = await runShim(['-namespace', 'ns1', '-id', 'd1', '-address', '/fake/c.sock', '-bundle', b, 'delete'], { cwd: b });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const res = containerd.task.v2.DeleteResponse.decode(r.stdout);
      expect(res.pid).toBe(4294967295);
      expect(res.exitStatus).toBe(137);
    }
  });

  it('-info prints a RuntimeInfo with the options it was given and the runtime\'s OCI features', async () => {
    const options = { typeUrl: 'containerd.runc.v1.Options', value: containerd.runc.v1.Options.encode({ binaryName: 'runc' }).finish() };
    const input = google.protobuf.Any.encode(options).finish();
    const r = await new Promise<{ stdout: Buffer; stderr: string; code: number }>((resolve) => {
      const child = execFile(SHIM, ['-info'], { cwd: dir, encoding: 'buffer' }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr: stderr.toString() }),
      );
      child.stdin!.end(Buffer.from(input));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = containerd.types.RuntimeInfo.decode(r.stdout);
    expect(info.name).toBe('io.containerd.tsshim.v2');
    expect(info.version?.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.options?.typeUrl).toBe('containerd.runc.v1.Options');
    expect(containerd.runc.v1.Options.decode(info.options!.value!).binaryName).toBe('runc');
    expect(info.features?.typeUrl).toBe('types.containerd.io/opencontainers/runtime-spec/1/features/Features');
    const features = JSON.parse(Buffer.from(info.features!.value!).toString()) as { ociVersionMin?: string };
    expect(features.ociVersionMin).toMatch(/^1\./);
  });

  it('rejects unknown flags the way Go flag parsing does, for start too', async () => {
    const del = await runShim(['-nosuch', 'delete'], { cwd: dir });
    expect(del.code).toBe(2);
    expect(del.stderr).toMatch(/flag provided but not defined: -nosuch/);
    expect(del.stdout.length).toBe(0);
    // start runs the daemon in its own session: its failure comes back through the launcher.
    const start = await runShim(['-nosuch', 'start'], { cwd: dir });
    expect(start.code).not.toBe(0);
    expect(start.stderr).toMatch(/flag provided but not defined: -nosuch/);
    expect(start.stdout.length).toBe(0);
  });
});

describe.skipIf(skipUnlessRoot())('hostile or malformed ids', () => {
  let dir: string;
  let socketDir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-ids-'));
    socketDir = join(dir, 's');
  });
  afterAll(() => {
    for (const pid of daemonsIn(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Live processes whose cwd is under `root`: a daemon started from one of our bundles. */
  function daemonsIn(root: string): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readlinkSync(`/proc/${entry}/cwd`).startsWith(root)) pids.push(Number(entry));
      } catch {
        // gone, or not ours to read
      }
    }
    return pids;
  }

  function bundle(name: string): string {
    const b = join(dir, 'bundles', name);
    mkdirSync(b, { recursive: true });
    writeFileSync(join(b, 'config.json'), '{}');
    return b;
  }

  it('start with -id ../../victim from a bundle refuses, creates nothing and leaves no daemon', async () => {
    const b = bundle('victim-bundle');
    const before = readdirSync(dir).sort();
    const r = await runShim(['-namespace', 'ns1', '-id', '../../victim', '-address', '/fake/c.sock', 'start'], { cwd: b, env: { TSSHIM_SOCKET_DIR: socketDir } });
    expect(r.code).not.toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/invalid -id: identifier "\.\.\/\.\.\/victim" must match \^\[A-Za-z0-9\]/);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(existsSync(socketDir)).toBe(false);
    expect(readdirSync(b)).toEqual(['config.json']);
    expect(daemonsIn(dir)).toEqual([]);
  });

  it('delete and serve refuse a malformed -id or -namespace too', async () => {
    const b = bundle('d');
    const del = await runShim(['-namespace', 'ns1', '-id', 'a/../../b', '-bundle', b, 'delete'], { cwd: b });
    expect(del.code).toBe(1);
    expect(del.stdout.length).toBe(0);
    expect(del.stderr).toMatch(/invalid -id: identifier "a\/\.\.\/\.\.\/b" must match/);
    const serve = await runShim(['-namespace', 'n/s', '-id', 'ok', '-socket', join(dir, 'x.sock')], { cwd: b });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(/invalid -namespace: identifier "n\/s" must match/);
    expect(existsSync(join(dir, 'x.sock'))).toBe(false);
  });

  it('over ttrpc a bad container or exec id gets InvalidArgument and the next good call is served', async () => {
    const b = bundle('i1');
    const r = await runShim(['-namespace', 'ns1', '-id', 'i1', '-address', '/fake/c.sock', 'start'], { cwd: b, env: { TSSHIM_SOCKET_DIR: socketDir } });
    expect(r.code).toBe(0);
    const T = containerd.task.v2;
    const client = await TtrpcClient.connect(r.stdout.toString().slice('unix://'.length));
    try {
      const bad: Array<[string, Uint8Array, RegExp]> = [
        ['State', T.StateRequest.encode({ id: '../../victim' }).finish(), /^invalid container id: identifier "\.\.\/\.\.\/victim" must match .*: invalid argument$/],
        ['Create', T.CreateTaskRequest.encode({ id: '../x', bundle: b }).finish(), /^invalid container id: /],
        ['Create', T.CreateTaskRequest.encode({ id: 'x'.repeat(77), bundle: b }).finish(), /greater than maximum length \(76 characters\): invalid argument$/],
        ['Exec', T.ExecProcessRequest.encode({ id: 'i1', execId: 'e/../../x' }).finish(), /^invalid exec id: /],
        ['Kill', T.KillRequest.encode({ id: 'i1', execId: '.hidden', signal: 9 }).finish(), /^invalid exec id: /],
        ['Delete', T.DeleteRequest.encode({ id: '' }).finish(), /^invalid container id: identifier must not be empty: invalid argument$/],
      ];
      for (const [method, payload, message] of bad) {
        await expect(client.call('containerd.task.v2.Task', method, payload), method).rejects.toMatchObject({ code: 3, message: expect.stringMatching(message) });
      }
      const conn = T.ConnectResponse.decode(await client.call('containerd.task.v3.Task', 'Connect', T.ConnectRequest.encode({ id: 'i1' }).finish()));
      expect(conn.shimPid).toBeGreaterThan(0);
      await expect(client.call('containerd.task.v2.Task', 'State', T.StateRequest.encode({ id: 'i1' }).finish())).rejects.toMatchObject({ code: 5 });
      await client.call('containerd.task.v2.Task', 'Shutdown', T.ShutdownRequest.encode({ id: 'i1' }).finish());
    } finally {
      client.close();
    }
  });

  it('a daemon that gets no task after start exits on its own and says so in its log', async () => {
    const b = bundle('idle1');
    execFileSync('mkfifo', [join(b, 'log')]);
    // Hold the FIFO open for reading, as containerd does, and collect what the daemon writes.
    const fd = openSync(join(b, 'log'), constants.O_RDWR | constants.O_NONBLOCK);
    const log = new net.Socket({ fd, readable: true, writable: false });
    let text = '';
    log.on('data', (d) => (text += d.toString()));
    try {
      const r = await runShim(['-namespace', 'ns1', '-id', 'idle1', '-address', '/fake/c.sock', 'start'], {
        cwd: b,
        env: { TSSHIM_SOCKET_DIR: socketDir, TSSHIM_IDLE_EXIT_SECONDS: '2' },
      });
      expect(r.code).toBe(0);
      const sock = r.stdout.toString().slice('unix://'.length);
      expect(daemonsIn(b)).toHaveLength(1);
      const end = Date.now() + 30_000;
      while ((daemonsIn(b).length > 0 || !/exiting/.test(text)) && Date.now() < end) await new Promise((res) => setTimeout(res, 100));
      expect(daemonsIn(b)).toEqual([]);
      expect(text).toMatch(/held no task for 2000 ms and containerd sent no Shutdown: exiting/);
      expect(existsSync(sock)).toBe(false);
    } finally {
      log.destroy();
    }
  });
});

describe.skipIf(skipUnlessRoot())('shim lifecycle under containerd', () => {
  let env: TsshimEnv;
  beforeAll(async () => {
    env = await startTsshimEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('after the shim dies, containerd reports the exit status the shim had persisted, not a synthetic one', async () => {
    const id = uniqueId('crash');
    const events = env.c.events();
    await events.ready;
    try {
      expect((await env.c.ctr(['run', '-d', '--runtime', RUNTIME, env.image, id, 'sh', '-c', 'exit 7'])).code).toBe(0);
      const exit = await events.waitFor((e) => e.topic === '/tasks/exit' && eventContainerId(e) === id, 20_000);
      expect(exit.event['exit_status']).toBe(7);
      const [shim] = env.shimProcesses();
      expect(shim).toBeGreaterThan(0);
      process.kill(shim!, 'SIGKILL');
      // containerd runs `delete` and publishes the task's end itself, from delete's answer.
      const del = await events.waitFor((e) => e.topic === '/tasks/delete' && eventContainerId(e) === id, 20_000);
      expect(del.event['exit_status']).toBe(7);
      await env.c.ctr(['container', 'delete', id]);
    } finally {
      await events.stop();
    }
  });

  it('a broken config file fails the create with file, key and expectation, and the next task still runs', async () => {
    const bad = join(env.socketDir, '..', 'bad.toml');
    writeFileSync(bad, '[runtimes.runc]\nbinary = "runc"\nflags = 3\n');
    const r = await env.run(uniqueId('badcfg'), ['true'], { flags: ['--runtime-config-path', bad] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${bad}: runtimes.runc.flags: expected an array of strings`);
    const ok = await env.run(uniqueId('okcfg'), ['sh', '-c', 'exit 4']);
    expect(ok.code).toBe(4);
  });

  it('a missing runtime binary fails the create with a message naming it', async () => {
    const cfg = join(env.socketDir, '..', 'missing.toml');
    writeFileSync(cfg, '[runtimes.runc]\nbinary = "/nonexistent/runc"\n');
    const r = await env.run(uniqueId('nobin'), ['true'], { flags: ['--runtime-config-path', cfg] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('/nonexistent/runc');
  });
});

describe.skipIf(skipUnlessRoot())('shim logs', () => {
  it("reach containerd's log through the bundle's log FIFO; containerd's debug level raises the shim's", async () => {
    const env = await startTsshimEnv({ start: { debug: true } });
    try {
      const id = uniqueId('log');
      expect((await env.run(id, ['true'])).code).toBe(0);
      const lines = env.c
        .logs()
        .split('\n')
        .filter((l) => l.startsWith('{') && l.includes(`"id":"${id}"`))
        .map((l) => JSON.parse(l) as { level: number; msg: string; argv?: string[] });
      expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['shim serving', 'task created']));
      // Debug lines (level 20) name every runtime invocation.
      expect(lines.some((l) => l.level === 20 && l.argv?.includes('create'))).toBe(true);
    } finally {
      await env.stop();
    }
  });
});
