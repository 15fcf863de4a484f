import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import { RuntimeDriver } from '../../../src/runtime/runtime-driver.js';
import { RuntimeCommandError } from '../../../src/runtime/runtime-errors.js';
import { ALL_COMMANDS, DIALECTS, DIALECT_NAMES, type DialectName } from '../../../src/runtime/dialects.js';
import type { ResolvedRuntime } from '../../../src/runtime/select.js';
import { StandIn } from './stand-in.js';

let bundle: string;
const standIns: StandIn[] = [];

beforeEach(async () => {
  bundle = await mkdtemp(join(tmpdir(), 'tsshim-bundle-'));
});
afterEach(async () => {
  await Promise.all(standIns.splice(0).map((s) => s.remove()));
  await rm(bundle, { recursive: true, force: true });
});

async function install(fixture: string, name: string): Promise<StandIn> {
  const s = await StandIn.fixture(fixture, name);
  standIns.push(s);
  return s;
}

function driverFor(standIn: StandIn, dialect: DialectName, overrides: Partial<ResolvedRuntime> = {}): RuntimeDriver {
  const rt = standIn.runtime({ name: dialect, dialect, root: `/run/containerd/${dialect}`, binarySource: `runtimes.${dialect}.binary in the test`, ...overrides });
  return new RuntimeDriver(rt, { namespace: 'default', bundle });
}

async function failure(p: Promise<unknown>): Promise<StatusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StatusError);
  return err as StatusError;
}

function globals(dialect: DialectName): string[] {
  return ['--root', `/run/containerd/${dialect}/default`, '--log', join(bundle, 'log.json'), '--log-format', 'json'];
}

/** The argv of each recorded invocation, without the binary's version probe. */
async function commands(standIn: StandIn): Promise<string[][]> {
  return (await standIn.invocations()).map((i) => i.args).filter((a) => a[0] !== '--version');
}

describe('kata-runtime 1.x', () => {
  it('every supported command gets runc\'s argv, which kata-runtime 1.x accepts', async () => {
    const kata = await install('kata-runtime-1.x', 'kata-runtime');
    const d = driverFor(kata, 'kata-runtime', { systemdCgroup: true, options: { 'kata-config': '/etc/kata/q.toml' } });
    const pidFile = join(bundle, 'init.pid');
    await d.create({ id: 'c1', pidFile, consoleSocket: '/run/s.sock', noPivot: true });
    await d.start('c1');
    await d.exec({ id: 'c1', processJson: '{"args":["true"],"cwd":"/"}', pidFile: join(bundle, 'e1.pid') });
    await d.kill('c1', 15, true);
    await d.pause('c1');
    await d.resume('c1');
    expect(await d.ps('c1')).toEqual([4242]);
    await d.update('c1', '{"memory":{"limit":1048576}}');
    await d.delete('c1', { force: true });

    const g = [...globals('kata-runtime'), '--systemd-cgroup', '--kata-config=/etc/kata/q.toml'];
    const recorded = await commands(kata);
    expect(recorded[2].slice(g.length, g.length + 2)).toEqual(['exec', '--process']);
    expect(recorded).toEqual([
      [...g, 'create', '--bundle', bundle, '--pid-file', pidFile, '--console-socket', '/run/s.sock', '--no-pivot', 'c1'],
      [...g, 'start', 'c1'],
      [...g, 'exec', '--process', recorded[2][g.length + 2], '--detach', '--pid-file', join(bundle, 'e1.pid'), 'c1'],
      [...g, 'kill', '--all', 'c1', '15'],
      [...g, 'pause', 'c1'],
      [...g, 'resume', 'c1'],
      [...g, 'ps', '--format', 'json', 'c1'],
      [...g, 'update', '--resources=-', 'c1'],
      [...g, 'delete', '--force', 'c1'],
    ]);
    expect(await readFile(pidFile, 'utf8')).toMatch(/^\d+$/);
  });

  it('asks the binary its version once, before the first command, for every driver of that binary', async () => {
    const kata = await install('kata-runtime-1.x', 'kata-runtime');
    await driverFor(kata, 'kata-runtime').start('c1');
    await driverFor(kata, 'kata-runtime').start('c2');
    expect((await kata.invocations()).map((i) => i.args.at(-1))).toEqual(['--version', 'c1', 'c2']);
  });

  it('checkpoint, restore and create --no-new-keyring are Unimplemented, naming the runtime, and nothing runs', async () => {
    const kata = await install('kata-runtime-1.x', 'kata-runtime');
    const d = driverFor(kata, 'kata-runtime');
    const checkpoint = await failure(d.checkpoint({ id: 'c1', imagePath: '/img', leaveRunning: true }));
    expect(checkpoint.code).toBe(Code.Unimplemented);
    expect(checkpoint.message).toBe('kata-runtime does not support checkpoint');
    const restore = await failure(d.restore({ id: 'c1', imagePath: '/img', pidFile: '/p' }));
    expect(restore.message).toBe('kata-runtime does not support restore');
    const keyring = await failure(d.create({ id: 'c1', pidFile: '/p', noNewKeyring: true }));
    expect(keyring.code).toBe(Code.Unimplemented);
    expect(keyring.message).toBe('kata-runtime does not support create --no-new-keyring');
    expect(await kata.invocations()).toEqual([]);
  });
});

describe('kata-runtime 2.x, which has no OCI command line', () => {
  it('is recognised by its version and refused as Unimplemented before any command runs', async () => {
    const kata = await install('kata-runtime-2.x', 'kata-runtime');
    const d = driverFor(kata, 'kata-runtime');
    const err = await failure(d.create({ id: 'c1', pidFile: join(bundle, 'init.pid') }));
    expect(err.code).toBe(Code.Unimplemented);
    expect(err.message).toBe(
      `kata-runtime (${kata.binary}): kata-runtime 2.5.2 has no OCI command line (Kata 2.0 removed it); ` +
        'run Kata through its own shim, runtime io.containerd.kata.v2',
    );
    const again = await failure(d.delete('c1', { force: true }));
    expect(again.code).toBe(Code.Unimplemented);
    expect((await kata.invocations()).map((i) => i.args)).toEqual([['--version']]);
  });

  it('whose version cannot be read is still refused as Unimplemented from its "Invalid command" answer', async () => {
    const kata = await StandIn.create('kata-runtime');
    standIns.push(kata);
    await kata.behave({ exit: 1, log: '{"level":"error","msg":"Invalid command \\"create\\"","time":"t"}\n' });
    const err = await failure(driverFor(kata, 'kata-runtime').create({ id: 'c1', pidFile: '/p' }));
    expect(err.code).toBe(Code.Unimplemented);
    expect(err.message).toBe(
      `kata-runtime (${kata.binary}) has no create command (Invalid command "create"): ` +
        'Kata 2.0 removed the OCI command line; run Kata through its own shim, runtime io.containerd.kata.v2',
    );
    expect(err.cause).toBeInstanceOf(RuntimeCommandError);
    expect((err.cause as RuntimeCommandError).exitCode).toBe(1);
  });
});

describe('runnc', () => {
  it('create, start, kill and delete get runc\'s argv, which runnc accepts', async () => {
    const runnc = await install('runnc', 'runnc');
    const d = driverFor(runnc, 'runnc');
    const pidFile = join(bundle, 'init.pid');
    await d.create({ id: 'c1', pidFile, noPivot: true, noNewKeyring: true });
    await d.start('c1');
    await d.kill('c1', 9);
    await d.delete('c1');
    await d.delete('c1', { force: true });
    const g = globals('runnc');
    expect(await runnc.invocations().then((all) => all.map((i) => i.args))).toEqual([
      [...g, 'create', '--bundle', bundle, '--pid-file', pidFile, '--no-pivot', '--no-new-keyring', 'c1'],
      [...g, 'start', 'c1'],
      [...g, 'kill', 'c1', '9'],
      [...g, 'delete', 'c1'],
      [...g, 'delete', '--force', 'c1'],
    ]);
  });

  it('exec, pause, resume, ps, update, checkpoint and restore are Unimplemented, naming runnc and the command, and nothing runs', async () => {
    const runnc = await install('runnc', 'runnc');
    const d = driverFor(runnc, 'runnc');
    const attempts: Array<[string, Promise<unknown>]> = [
      ['exec', d.exec({ id: 'c1', processJson: '{}', pidFile: '/p' })],
      ['pause', d.pause('c1')],
      ['resume', d.resume('c1')],
      ['ps', d.ps('c1')],
      ['update', d.update('c1', '{}')],
      ['checkpoint', d.checkpoint({ id: 'c1', imagePath: '/img', leaveRunning: false })],
      ['restore', d.restore({ id: 'c1', imagePath: '/img', pidFile: '/p' })],
    ];
    for (const [command, attempt] of attempts) {
      const err = await failure(attempt);
      expect(err.code).toBe(Code.Unimplemented);
      expect(err.message).toBe(`runnc does not support ${command}`);
    }
    expect(await runnc.invocations()).toEqual([]);
  });

  it('a terminal (create --console-socket) and --systemd-cgroup are Unimplemented', async () => {
    const runnc = await install('runnc', 'runnc');
    const tty = await failure(driverFor(runnc, 'runnc').create({ id: 'c1', pidFile: '/p', consoleSocket: '/s.sock' }));
    expect(tty.code).toBe(Code.Unimplemented);
    expect(tty.message).toBe('runnc does not support create --console-socket');
    const systemd = await failure(driverFor(runnc, 'runnc', { systemdCgroup: true }).start('c1'));
    expect(systemd.code).toBe(Code.Unimplemented);
    expect(systemd.message).toBe('runnc does not support --systemd-cgroup');
    expect(await runnc.invocations()).toEqual([]);
  });

  it('a command runnc lacks is its own usage error when the dialect is not runnc', async () => {
    const runnc = await install('runnc', 'runnc');
    const err = await failure(driverFor(runnc, 'runc').pause('c1'));
    expect(err).toBeInstanceOf(RuntimeCommandError);
    expect(err.message).toBe("No help topic for 'pause'");
    expect((err as RuntimeCommandError).exitCode).toBe(3);
  });
});

describe('the capability matrix of docs/configuration.md', () => {
  it('says for every dialect exactly which commands and global flags it has', async () => {
    const doc = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const all = doc.split('\n');
    const start = all.findIndex((l) => l.startsWith('| Command (Task API call)'));
    const end = all.indexOf('', start);
    const [header, , ...lines] = all.slice(start, end);
    const columns = header.split('|').slice(2, -1).map((c) => c.trim().match(/`([^`]+)`/)![1]);
    expect(columns).toEqual(DIALECT_NAMES);

    const documented = new Map<string, boolean[]>();
    for (const line of lines) {
      const [subject, ...cells] = line.split('|').slice(1, -1).map((c) => c.trim());
      // "yes", "yes, without …" and "only with CRIU" (crun leaves that to the binary) all mean the dialect has it.
      const has = cells.map((c) => c !== 'no');
      for (const name of subject.match(/`[^`]+`/g)!.map((n) => n.slice(1, -1))) documented.set(name, has);
    }
    for (const [i, dialect] of DIALECT_NAMES.entries()) {
      for (const command of ALL_COMMANDS) {
        expect(documented.get(command)?.[i], `${dialect} ${command}`).toBe(DIALECTS[dialect].commands.has(command));
      }
      expect(documented.get('--systemd-cgroup')?.[i], `${dialect} --systemd-cgroup`).toBe(DIALECTS[dialect].systemdCgroup);
    }
  });
});
