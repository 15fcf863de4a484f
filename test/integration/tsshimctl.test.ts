// tsshimctl drives shim binaries with no containerd running: the Go runc shim of the containerd
// release under test and tsshim must look the same through it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, defaultContainerd, packagedShimDir, projectBinDir, skipUnlessRoot, uniqueId } from './harness/index.js';
import { run } from './harness/run.js';
import { defaultSpec } from '../../src/ctl/oci-spec.js';

// What users install: the packaged binaries, copied to a directory of their own.
const CTL = join(packagedShimDir(), 'tsshimctl');
const TSSHIM = join(packagedShimDir(), 'containerd-shim-tsshim-v2');
/** The checkout's launcher, which runs the bundle on the pinned Node. */
const TSSHIM_DEV = join(projectBinDir(), 'containerd-shim-tsshim-v2');
const GO_SHIM = join(dirname(defaultContainerd()), 'containerd-shim-runc-v2');
const NS = 'tsshimctl-test';

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { TSSHIM_CONFIG: _c, TSSHIM_TRACE: _t, ...env } = process.env;
  return { ...env, ...extra };
}

function ctl(args: string[], env?: Record<string, string>) {
  return run(CTL, args, { env: cleanEnv(env), timeoutMs: 90_000 });
}

function topics(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { topic: string }).topic);
}

/** What a run may leave behind: its work directory, runc state, a shim process naming the id. */
function leftovers(id: string): string[] {
  const found: string[] = [];
  const work = process.env.XDG_RUNTIME_DIR || tmpdir();
  for (const name of readdirSync(work)) {
    if (name.startsWith('tsshimctl-') && existsSync(join(work, name, NS, id))) found.push(join(work, name));
  }
  if (existsSync(join('/run/containerd/runc', NS, id))) found.push(`runc state of ${id}`);
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(id)) found.push(`process ${pid}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe.skipIf(skipUnlessRoot())('tsshimctl run with no containerd', () => {
  let rootfs: string;
  beforeAll(async () => {
    rootfs = await busyboxRootfs();
  }, 300_000);

  const shims = [
    ['the Go runc shim', GO_SHIM],
    ['tsshim', TSSHIM],
    ['the development launcher', TSSHIM_DEV],
  ] as const;

  it('gives the same stdout, exit status and event topics with the Go runc shim, the packaged tsshim and the launcher', async () => {
    const results: Record<string, { code: number; stdout: string; topics: string[] }[]> = {};
    for (const [name, shim] of shims) {
      results[name] = [];
      for (const status of [0, 42]) {
        const id = uniqueId('ctl');
        const r = await ctl(['run', '--shim', shim, '--rootfs', rootfs, '--id', id, '--namespace', NS, '--events', '--',
          'sh', '-c', `echo out-line; echo err-line >&2; exit ${status}`]);
        results[name].push({ code: r.code, stdout: r.stdout.toString(), topics: topics(r.stderr) });
        expect(r.stderr, `${name}: err-line reaches stderr`).toContain('err-line');
        expect(leftovers(id), `${name} leaves nothing`).toEqual([]);
      }
    }
    const go = results['the Go runc shim']!;
    expect(go.map((r) => r.code)).toEqual([0, 42]);
    expect(go[0]!.stdout).toBe('out-line\n');
    expect(go[0]!.topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    for (const name of ['tsshim', 'the development launcher']) {
      const ts = results[name]!;
      expect(ts.map((r) => r.code), name).toEqual([0, 42]);
      expect(ts.map((r) => r.stdout), name).toEqual(go.map((r) => r.stdout));
      expect(ts.map((r) => r.topics), name).toEqual(go.map((r) => r.topics));
    }
  }, 360_000);

  it('copies its stdin to the container and passes --env on', async () => {
    for (const [name, shim] of shims) {
      const id = uniqueId('ctl');
      const r = await run(CTL, ['run', '--shim', shim, '--rootfs', rootfs, '--id', id, '--namespace', NS, '--env', 'GREETING=hi there',
        '--', 'sh', '-c', 'cat; echo "$GREETING"'], { env: cleanEnv(), input: 'from stdin\n', timeoutMs: 90_000 });
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.toString()).toBe('from stdin\nhi there\n');
      expect(leftovers(id)).toEqual([]);
    }
  }, 180_000);

  it('forwards SIGTERM to the container as Kill and exits with its status', async () => {
    for (const [name, shim] of shims) {
      const id = uniqueId('ctl');
      const child = spawn(CTL, ['run', '--shim', shim, '--rootfs', rootfs, '--id', id, '--namespace', NS, '--events', '--',
        'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while true; do sleep 0.1; done'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      await new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        if (stdout.includes('ready')) resolve();
      }));
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
      expect(stdout, name).toContain('got-term');
      expect(code, `${name}: ${stderr}`).toBe(7);
      expect(leftovers(id)).toEqual([]);
    }
  }, 180_000);

  it('with --tty gives the container its terminal (under script(1), a pty of its own)', async () => {
    for (const [name, shim] of shims) {
      const id = uniqueId('ctl');
      const cmd = [CTL, 'run', '--tty', '--shim', shim, '--rootfs', rootfs, '--id', id, '--namespace', NS, '--', 'sh', '-c', "'tty; exit 3'"].join(' ');
      const r = await run('script', ['-qec', cmd, '/dev/null'], { env: cleanEnv(), timeoutMs: 90_000 });
      expect(r.code, `${name}: ${r.stderr}`).toBe(3);
      expect(r.stdout.toString(), name).toMatch(/\/dev\/pts\/\d+\r*\n/);
      expect(leftovers(id)).toEqual([]);
    }
  }, 180_000);

  it('reports a missing command with status 127 and leaves nothing', async () => {
    for (const [name, shim] of shims) {
      const id = uniqueId('ctl');
      const r = await ctl(['run', '--shim', shim, '--rootfs', rootfs, '--id', id, '--namespace', NS, '--', 'no-such-command']);
      expect(r.code, name).toBe(127);
      expect(r.stderr).toMatch(/tsshimctl: .*no-such-command.*executable file not found/);
      expect(leftovers(id)).toEqual([]);
    }
  }, 180_000);

  it('refuses a missing rootfs before starting anything', async () => {
    const id = uniqueId('ctl');
    const r = await ctl(['run', '--shim', TSSHIM, '--rootfs', '/nonexistent/rootfs', '--id', id, '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('tsshimctl: rootfs /nonexistent/rootfs: no such directory');
    expect(leftovers(id)).toEqual([]);
  });

  it('reports a shim that fails to start with its output and leaves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctl-badshim-'));
    try {
      const bad = join(dir, 'containerd-shim-broken-v2');
      writeFileSync(bad, '#!/bin/sh\necho "cannot serve: broken on purpose" >&2\nexit 3\n', { mode: 0o755 });
      const id = uniqueId('ctl');
      const r = await ctl(['run', '--shim', bad, '--rootfs', rootfs, '--id', id, '--', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`tsshimctl: shim ${bad} start failed: cannot serve: broken on purpose: exit status 3`);
      expect(leftovers(id)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a trace when TSSHIM_TRACE is set, and tsshimctl trace renders it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctl-trace-'));
    try {
      const id = uniqueId('ctl');
      const r = await ctl(['run', '--shim', TSSHIM, '--rootfs', rootfs, '--id', id, '--namespace', NS, '--', 'sh', '-c', 'exit 3'], { TSSHIM_TRACE: dir });
      expect(r.code, r.stderr).toBe(3);
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      const records = readFileSync(join(dir, files[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
      const create = records.find((x) => x.kind === 'rpc' && x.method === 'Create');
      expect(create?.request).toMatchObject({ id, bundle: expect.stringContaining(id) });
      expect(records.find((x) => x.kind === 'runtime' && x.command === 'create')?.exitCode).toBe(0);
      expect(records.find((x) => x.kind === 'event' && x.topic === '/tasks/exit')?.event).toMatchObject({ exitStatus: 3 });
      const timeline = await ctl(['trace', join(dir, files[0]!)]);
      expect(timeline.code).toBe(0);
      const text = timeline.stdout.toString();
      for (const want of [`rpc   Connect ${id} → OK`, `rpc   Create ${id} → OK`, `exec  create ${id}:`, `event /tasks/exit ${id} (`, `rpc   Shutdown ${id} → OK`]) {
        expect(text).toContain(want);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.skipIf(skipUnlessRoot())('tsshimctl call and events against a shim started by hand', () => {
  let work: string;
  let rootfs: string;
  beforeAll(async () => {
    rootfs = realpathSync(await busyboxRootfs());
    work = mkdtempSync(join(tmpdir(), 'ctl-call-'));
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('calls Task methods with JSON and prints what the shim publishes', async () => {
    const id = uniqueId('call');
    const eventsSock = join(work, 'events.sock');
    const sink = spawn(CTL, ['events', '--socket', eventsSock], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    sink.stdout.on('data', (b: Buffer) => (printed += b.toString()));
    await new Promise<void>((resolve) => sink.stderr.once('data', () => resolve()));
    const bundle = join(work, NS, id);
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(defaultSpec({ id, namespace: NS, rootfs, args: ['sh', '-c', 'exit 5'], env: [], terminal: false, annotations: {} })));
    const shimArgs = ['-namespace', NS, '-address', join(work, 'none.sock'), '-publish-binary', '/bin/false', '-id', id];
    const shimEnv = cleanEnv({ TTRPC_ADDRESS: eventsSock });
    let started: Awaited<ReturnType<typeof run>> | undefined;
    try {
      started = await runIn(bundle, TSSHIM, [...shimArgs, 'start'], shimEnv);
      expect(started.code, started.stderr).toBe(0);
      const socket = started.stdout.toString().trim().replace(/^unix:\/\//, '');
      const call = (method: string, json?: string) => ctl(['call', '--socket', socket, '--namespace', NS, method, ...(json ? [json] : [])]);

      const connect = await call('Connect', JSON.stringify({ id }));
      expect(connect.code, connect.stderr).toBe(0);
      expect(JSON.parse(connect.stdout.toString()).shimPid).toBeGreaterThan(0);

      const missing = await call('State', JSON.stringify({ id: 'no-such-task' }));
      expect(missing.code).toBe(1);
      expect(JSON.parse(missing.stderr)).toMatchObject({ code: 5, codeName: 'NotFound' });

      const created = await call('containerd.task.v2.Task/Create', JSON.stringify({ id, bundle }));
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout.toString()).pid).toBeGreaterThan(0);
      expect((await call('Start', JSON.stringify({ id }))).code).toBe(0);
      const waited = await call('Wait', JSON.stringify({ id }));
      expect(JSON.parse(waited.stdout.toString()).exitStatus).toBe(5);
      const deleted = await call('Delete', JSON.stringify({ id }));
      expect(JSON.parse(deleted.stdout.toString())).toMatchObject({ exitStatus: 5 });
      expect((await call('Shutdown', JSON.stringify({ id }))).code).toBe(0);

      await waitFor(() => printed.includes('/tasks/delete'));
      const seen = printed.trim().split('\n').map((l) => JSON.parse(l) as { topic: string; namespace: string; event: Record<string, unknown> });
      expect(seen.map((e) => e.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
      expect(seen[2]!.event).toMatchObject({ containerId: id, exitStatus: 5 });
      expect(seen.every((e) => e.namespace === NS)).toBe(true);
    } finally {
      await runIn(bundle, TSSHIM, [...shimArgs, '-bundle', bundle, 'delete'], shimEnv);
      sink.kill('SIGTERM');
      await new Promise((resolve) => sink.once('close', resolve));
    }
    expect(existsSync(eventsSock)).toBe(false);
    // The daemon exits on its own after its Shutdown reply has gone out, which may be after the
    // delete action has returned.
    await expect.poll(() => leftovers(id).filter((l) => !l.startsWith(work)), { timeout: 15_000 }).toEqual([]);
  }, 120_000);
});

function runIn(cwd: string, file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Awaited<ReturnType<typeof run>>> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout: Buffer.concat(out), stderr }));
  });
}

async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
