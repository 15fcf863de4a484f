// The packaged binary's front end: what it answers without starting Node must be exactly what
// the Node code answers, and whenever it cannot be sure it must leave the answer to Node. Whether
// Node ran is seen from the binary's cache directory: the payload is unpacked only to run Node.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerd, google, runtimeoptions } from '../../src/api/gen/proto.js';
import { NODE_GROUP, socketPath } from '../../src/shim/socket-address.js';
import { packagedShimDir } from './harness/index.js';

const SHIM = join(packagedShimDir(), 'containerd-shim-tsshim-v2');

interface Result { code: number; stdout: Buffer; stderr: string }

function run(args: string[], opts: { cwd: string; env?: Record<string, string>; bin?: string; input?: Uint8Array }): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(opts.bin ?? SHIM, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'buffer' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() }),
    );
    // Actions other than start never read stdin: a write they do not wait for is no failure.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input);
  });
}

/** The Any containerd writes on start's stdin for a runtime with runtimeoptions.v1.Options. */
function runtimeOptions(o: { configPath?: string; configBody?: string }): Uint8Array {
  const value = runtimeoptions.v1.Options.encode({ configPath: o.configPath, configBody: o.configBody ? Buffer.from(o.configBody) : undefined }).finish();
  return google.protobuf.Any.encode({ typeUrl: 'runtimeoptions.v1.Options', value }).finish();
}

describe('the packaged binary', () => {
  let work: string;
  let n = 0;
  const fresh = (name: string) => {
    const dir = join(work, `${name}-${n++}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  /** An empty cache directory: still empty afterwards means Node never ran. */
  const emptyCache = () => fresh('cache');
  const nodeRan = (cache: string) => readdirSync(cache).length > 0;
  const listeners: net.Server[] = [];
  const listen = async (path: string) => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(path, resolve));
    listeners.push(server);
    return server;
  };

  /** A socket file nothing listens on, as a killed daemon leaves it (its process exited without closing it). */
  const deadSocket = (path: string) => {
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    expect(existsSync(path)).toBe(true);
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tsshim-packaged-'));
  });
  afterAll(async () => {
    await Promise.all(listeners.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(work, { recursive: true, force: true });
  });

  it('runs from a copy in any directory and through a symlink, replacing an older unpacked payload', async () => {
    const dir = fresh('elsewhere');
    symlinkSync(SHIM, join(dir, 'linked-shim'));
    // What an older version left: replaced by this payload, not kept beside it.
    const older = join(work, 'shared-cache', 'ab'.repeat(32));
    mkdirSync(older, { recursive: true });
    writeFileSync(join(older, 'node'), '');
    for (const bin of [SHIM, join(dir, 'linked-shim')]) {
      const r = await run(['-v'], { cwd: dir, bin, env: { TSSHIM_CACHE_DIR: join(work, 'shared-cache') } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toMatch(/Version:\s+0\.\d+\.\d+[\s\S]*Node\.js:\s+v24\./);
    }
    // Unpacked once, into a directory named by the payload's hash; the older one is gone.
    const payloads = readdirSync(join(work, 'shared-cache')).filter((f) => /^[0-9a-f]{64}$/.test(f));
    expect(payloads).toHaveLength(1);
    expect(payloads[0]).not.toBe('ab'.repeat(32));
  });

  describe('start', () => {
    const groupCases: { name: string; annotations: Record<string, string> | undefined; group: string; address?: string }[] = [
      { name: 'the task id without annotations', annotations: undefined, group: 'task-a' },
      { name: 'the sandbox id of a pod', annotations: { 'io.kubernetes.cri.sandbox-id': 'pod-1' }, group: 'pod-1' },
      {
        name: 'the tsshim group before the runc group and the sandbox id',
        annotations: { 'io.kubernetes.cri.sandbox-id': 'pod-1', 'io.containerd.runc.v2.group': 'runc-g', 'io.containerd.tsshim.v2.group': 'ts-g' },
        group: 'ts-g',
      },
      { name: 'the next key when a group annotation is empty', annotations: { 'io.containerd.tsshim.v2.group': '', 'io.containerd.runc.v2.group': 'g2' }, group: 'g2' },
      { name: 'a group name with escapes and non-ASCII text', annotations: { 'io.containerd.runc.v2.group': 'grüße "x" 😀\\n' }, group: 'grüße "x" 😀\\n' },
      { name: 'a containerd address that path.join normalises', annotations: undefined, group: 'task-a', address: '/run/./x//../containerd/containerd.sock/' },
    ];
    for (const c of groupCases) {
      it(`answers a serving group's address without Node: ${c.name}`, async () => {
        const bundle = fresh('bundle');
        const sockets = fresh('s');
        const address = c.address ?? '/run/containerd/containerd.sock';
        // \u escapes as well as raw UTF-8: both decode to the same group name.
        const spec = JSON.stringify({ ociVersion: '1.0.2', process: { args: ['sh'] }, annotations: c.annotations }).replace(/ü/g, '\\u00fc');
        writeFileSync(join(bundle, 'config.json'), spec);
        const path = socketPath(sockets, address, 'default', c.group);
        await listen(path);
        const cache = emptyCache();
        const r = await run(['-namespace', 'default', '-id', 'task-a', '-address', address, 'start'], {
          cwd: bundle,
          env: { TSSHIM_SOCKET_DIR: sockets, TSSHIM_CACHE_DIR: cache },
        });
        expect(r.stderr).toBe('');
        expect(r.stdout.toString()).toBe(`unix://${path}`);
        expect(r.code).toBe(0);
        expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(`unix://${path}`);
        expect(nodeRan(cache)).toBe(false);
      });
    }

    const groupingCases: { name: string; grouping: string; how: 'env' | 'config_path' | 'config_body'; group: string }[] = [
      { name: '"node" from $TSSHIM_CONFIG', grouping: 'node', how: 'env', group: NODE_GROUP },
      { name: '"task" from config_path of the runtime options', grouping: 'task', how: 'config_path', group: 'task-b' },
      { name: '"node" from config_body of the runtime options', grouping: 'node', how: 'config_body', group: NODE_GROUP },
    ];
    for (const c of groupingCases) {
      it(`derives the group from grouping = ${c.name}`, async () => {
        const bundle = fresh('bundle');
        const sockets = fresh('s');
        writeFileSync(join(bundle, 'config.json'), JSON.stringify({ annotations: { 'io.kubernetes.cri.sandbox-id': 'pod-9' } }));
        const toml = `# density\ngrouping = "${c.grouping}"  # one daemon per ${c.grouping}\n\n[runtimes.runc]\nbinary = "runc"\n`;
        const file = join(fresh('cfg'), 'config.toml');
        writeFileSync(file, toml);
        const address = '/run/containerd/containerd.sock';
        const path = socketPath(sockets, address, 'k8s.io', c.group);
        await listen(path);
        const cache = emptyCache();
        const r = await run(['-namespace', 'k8s.io', '-id', 'task-b', '-address', address, 'start'], {
          cwd: bundle,
          env: { TSSHIM_SOCKET_DIR: sockets, TSSHIM_CACHE_DIR: cache, TSSHIM_CONFIG: c.how === 'env' ? file : join(work, 'no-such.toml') },
          input: c.how === 'env' ? undefined : runtimeOptions(c.how === 'config_path' ? { configPath: file } : { configBody: toml }),
        });
        expect(r.stderr).toBe('');
        expect(r.stdout.toString()).toBe(`unix://${path}`);
        expect(nodeRan(cache)).toBe(false);
      });
    }

    it('starts a daemon through Node when the group socket is stale (nothing listens)', async () => {
      const bundle = fresh('bundle');
      const sockets = fresh('s');
      writeFileSync(join(bundle, 'config.json'), '{}');
      const address = join(work, `containerd-${process.pid}.sock`);
      const path = socketPath(sockets, address, 'default', 'stale-task');
      deadSocket(path);
      const cache = emptyCache();
      const r = await run(['-namespace', 'default', '-id', 'stale-task', '-address', address, 'start'], {
        cwd: bundle,
        env: { TSSHIM_SOCKET_DIR: sockets, TSSHIM_CACHE_DIR: cache },
      });
      const daemons = readdirSync('/proc').filter((p) => {
        try {
          return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(address);
        } catch {
          return false;
        }
      });
      try {
        expect(r.stderr).toBe('');
        expect(r.stdout.toString()).toBe(`unix://${path}`);
        expect(nodeRan(cache)).toBe(true);
        expect(daemons).toHaveLength(1);
      } finally {
        for (const pid of daemons) process.kill(Number(pid), 'SIGKILL');
      }
    });
  });

  describe('delete', () => {
    const decode = (b: Buffer) => containerd.task.v2.DeleteResponse.decode(b);
    const cleanBundle = (opts: { runtimeFile?: boolean } = {}) => {
      const bundle = fresh('bundle');
      mkdirSync(join(bundle, 'rootfs'));
      writeFileSync(join(bundle, 'init.pid'), '4242');
      writeFileSync(join(bundle, 'init.exit.json'), JSON.stringify({ pid: 4242, status: 3, exitedAt: '2026-12-02T05:28:30.123Z' }));
      if (opts.runtimeFile) writeFileSync(join(bundle, 'tsshim-runtime.json'), '{}');
      return bundle;
    };
    const args = (bundle: string) => ['-namespace', 'default', '-id', 'task-d', '-address', '/run/containerd/containerd.sock', '-bundle', bundle, 'delete'];

    it('after a clean Delete answers, without Node, the bytes Node answers', async () => {
      const bundle = cleanBundle();
      const cache = emptyCache();
      const fast = await run(args(bundle), { cwd: bundle, env: { TSSHIM_CACHE_DIR: cache } });
      const full = await run(args(bundle), { cwd: bundle, env: { TSSHIM_FRONT_FULL: '1', TSSHIM_CACHE_DIR: join(work, 'shared-cache') } });
      expect(fast.stderr).toBe('');
      expect(fast.code).toBe(0);
      expect(nodeRan(cache)).toBe(false);
      expect(full.code).toBe(0);
      expect(fast.stdout.toString('hex')).toBe(full.stdout.toString('hex'));
      const r = decode(fast.stdout);
      expect(r.pid).toBe(4242);
      expect(r.exitStatus).toBe(3);
      expect(Number(r.exitedAt!.seconds)).toBe(Date.parse('2026-12-02T05:28:30Z') / 1000);
      expect(r.exitedAt!.nanos).toBe(123_000_000);
    });

    it('removes the socket a killed daemon left behind, and leaves one a daemon still serves', async () => {
      const sockets = fresh('s');
      for (const serving of [false, true]) {
        const bundle = cleanBundle();
        const path = join(sockets, `g${serving}`);
        if (serving) await listen(path);
        else deadSocket(path);
        writeFileSync(join(bundle, 'address'), `unix://${path}`);
        const cache = emptyCache();
        const r = await run(args(bundle), { cwd: bundle, env: { TSSHIM_CACHE_DIR: cache } });
        expect(r.code).toBe(0);
        expect(nodeRan(cache)).toBe(false);
        expect(existsSync(path)).toBe(serving);
      }
    });

    it('leaves the answer to Node while the runtime record says a runtime delete may be due', async () => {
      const bundle = cleanBundle({ runtimeFile: true });
      const cache = emptyCache();
      const r = await run(args(bundle), { cwd: bundle, env: { TSSHIM_CACHE_DIR: cache } });
      expect(r.code).toBe(0);
      expect(nodeRan(cache)).toBe(true);
      expect(decode(r.stdout).exitStatus).toBe(3);
    });

    it('leaves the answer to Node when no exit was recorded (the daemon died first)', async () => {
      const bundle = cleanBundle();
      rmSync(join(bundle, 'init.exit.json'));
      const cache = emptyCache();
      const r = await run(args(bundle), { cwd: bundle, env: { TSSHIM_CACHE_DIR: cache } });
      expect(r.code).toBe(0);
      expect(nodeRan(cache)).toBe(true);
      const d = decode(r.stdout);
      expect(d.pid).toBe(4242);
      expect(d.exitStatus).toBe(137);
    });
  });
});
