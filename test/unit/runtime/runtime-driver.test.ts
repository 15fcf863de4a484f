import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import { RuntimeDriver } from '../../../src/runtime/runtime-driver.js';
import { RuntimeCommandError } from '../../../src/runtime/runtime-errors.js';
import type { ResolvedRuntime } from '../../../src/runtime/select.js';
import { StandIn } from './stand-in.js';

let standIn: StandIn;
let bundle: string;

beforeEach(async () => {
  standIn = await StandIn.create();
  bundle = await mkdtemp(join(tmpdir(), 'tsshim-bundle-'));
});
afterEach(async () => {
  await standIn.remove();
  await rm(bundle, { recursive: true, force: true });
});

function driver(overrides: Partial<ResolvedRuntime> = {}, timeoutMs?: number): RuntimeDriver {
  return new RuntimeDriver(standIn.runtime(overrides), { namespace: 'k8s.io', bundle, timeoutMs });
}

async function failure(p: Promise<unknown>): Promise<StatusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StatusError);
  return err as StatusError;
}

/** What every command line starts with for the default stand-in runtime. */
function globals(): string[] {
  return ['--root', '/run/containerd/runc/k8s.io', '--log', join(bundle, 'log.json'), '--log-format', 'json'];
}

describe('runtime command lines', () => {
  it('create passes bundle, pid file and id after the global flags', async () => {
    await driver().create({ id: 'c1', pidFile: join(bundle, 'init.pid') });
    expect(await standIn.onlyArgs()).toEqual([...globals(), 'create', '--bundle', bundle, '--pid-file', join(bundle, 'init.pid'), 'c1']);
  });

  it('create adds the console socket, --no-pivot and --no-new-keyring when asked', async () => {
    await driver().create({ id: 'c1', pidFile: '/p', consoleSocket: '/s.sock', noPivot: true, noNewKeyring: true });
    expect(await standIn.onlyArgs()).toEqual([
      ...globals(), 'create', '--bundle', bundle, '--pid-file', '/p', '--console-socket', '/s.sock', '--no-pivot', '--no-new-keyring', 'c1',
    ]);
  });

  it('create hands the given fds to the runtime as its stdio', async () => {
    const outPath = join(bundle, 'out');
    const errPath = join(bundle, 'err');
    const out = openSync(outPath, 'w');
    const errFd = openSync(errPath, 'w');
    try {
      await driver().create({ id: 'c1', pidFile: '/p', io: { stdin: 'ignore', stdout: out, stderr: errFd } });
    } finally {
      closeSync(out);
      closeSync(errFd);
    }
    expect(await readFile(outPath, 'utf8')).toBe('stdout of create\n');
    expect(await readFile(errPath, 'utf8')).toBe('stderr of create\n');
  });

  it('runs the runtime in the bundle, with its configured env and without NOTIFY_SOCKET', async () => {
    process.env.NOTIFY_SOCKET = '/run/systemd/notify';
    try {
      await driver({ env: { FOO: 'bar' } }).start('c1');
    } finally {
      delete process.env.NOTIFY_SOCKET;
    }
    const [inv] = await standIn.invocations();
    expect(inv).toMatchObject({ cwd: bundle, notifySocket: '<unset>', foo: 'bar' });
    expect(inv.args).toEqual([...globals(), 'start', 'c1']);
  });

  it('exec hands the process spec over in a temp file that is removed afterwards', async () => {
    const spec = JSON.stringify({ args: ['sh', '-c', 'echo hi'], cwd: '/', env: ['A=1'] });
    await driver().exec({ id: 'c1', processJson: spec, pidFile: join(bundle, 'e1.pid'), consoleSocket: '/c.sock' });
    const processPath = (await standIn.file('process-path')).trim();
    expect(processPath).toMatch(/\/runc-process[0-9a-f]+$/);
    expect(await standIn.onlyArgs()).toEqual([
      ...globals(), 'exec', '--process', processPath, '--console-socket', '/c.sock', '--detach', '--pid-file', join(bundle, 'e1.pid'), 'c1',
    ]);
    expect(await standIn.file('process.json')).toBe(spec);
    expect(existsSync(processPath)).toBe(false);
  });

  it('exec removes the process file also when the runtime fails', async () => {
    await standIn.behave({ exit: 1 });
    await failure(driver().exec({ id: 'c1', processJson: '{}', pidFile: '/p' }));
    expect(existsSync((await standIn.file('process-path')).trim())).toBe(false);
  });

  it('kill sends the signal number, with --all only when asked', async () => {
    const d = driver();
    await d.kill('c1', 15);
    await d.kill('c1', 9, true);
    const [plain, all] = await standIn.invocations();
    expect(plain.args).toEqual([...globals(), 'kill', 'c1', '15']);
    expect(all.args).toEqual([...globals(), 'kill', '--all', 'c1', '9']);
  });

  it('delete, delete --force, pause and resume', async () => {
    const d = driver();
    await d.delete('c1');
    await d.delete('c1', { force: true });
    await d.pause('c1');
    await d.resume('c1');
    expect((await standIn.invocations()).map((i) => i.args.slice(globals().length))).toEqual([
      ['delete', 'c1'],
      ['delete', '--force', 'c1'],
      ['pause', 'c1'],
      ['resume', 'c1'],
    ]);
  });

  it('ps returns the pids the runtime prints as JSON', async () => {
    await standIn.behave({ stdout: '[1234,1250,1301]\n' });
    expect(await driver().ps('c1')).toEqual([1234, 1250, 1301]);
    expect(await standIn.onlyArgs()).toEqual([...globals(), 'ps', '--format', 'json', 'c1']);
  });

  it('ps of a container without processes (JSON null) is an empty list', async () => {
    await standIn.behave({ stdout: 'null\n' });
    expect(await driver().ps('c1')).toEqual([]);
  });

  it('ps output that is not a pid array is an Internal error quoting it', async () => {
    await standIn.behave({ stdout: 'PID CMD\n' });
    const err = await failure(driver().ps('c1'));
    expect(err.code).toBe(Code.Internal);
    expect(err.message).toContain('PID CMD');
  });

  it('update feeds the resources JSON on stdin to --resources=-', async () => {
    const resources = JSON.stringify({ memory: { limit: 1048576 }, cpu: { shares: 512 } });
    await driver().update('c1', resources);
    expect(await standIn.onlyArgs()).toEqual([...globals(), 'update', '--resources=-', 'c1']);
    expect(await standIn.file('stdin')).toBe(resources);
  });

  it('checkpoint emits the reference flags in order', async () => {
    await driver().checkpoint({
      id: 'c1', imagePath: '/img', leaveRunning: true, tcpEstablished: true, externalUnixSockets: true,
      shellJob: true, fileLocks: true, cgroupsMode: 'soft', emptyNamespaces: ['network', 'ipc'],
    });
    expect(await standIn.onlyArgs()).toEqual([
      ...globals(), 'checkpoint', '--image-path', '/img', '--work-path', join(bundle, 'work', 'criu-work'),
      '--tcp-established', '--ext-unix-sk', '--shell-job', '--file-locks', '--manage-cgroups-mode', 'soft',
      '--empty-ns', 'network', '--empty-ns', 'ipc', '--leave-running', 'c1',
    ]);
  });

  it('checkpoint for exit neither leaves the container running nor adds unasked flags', async () => {
    await driver().checkpoint({ id: 'c1', imagePath: '/img', workPath: '/work', leaveRunning: false });
    expect(await standIn.onlyArgs()).toEqual([...globals(), 'checkpoint', '--image-path', '/img', '--work-path', '/work', 'c1']);
  });

  it('restore detaches with the pid file and go-runc\'s single-dash -no-subreaper', async () => {
    await driver().restore({ id: 'c1', imagePath: '/img', parentPath: '/parent', pidFile: '/p', consoleSocket: '/s', noPivot: true });
    expect(await standIn.onlyArgs()).toEqual([
      ...globals(), 'restore', '--image-path', '/img', '--work-path', join(bundle, 'work'), '--parent-path', '/parent',
      '--detach', '--pid-file', '/p', '--console-socket', '/s', '--no-pivot', '-no-subreaper', '--bundle', bundle, 'c1',
    ]);
  });

  it('systemd_cgroup, options and extra flags follow the reference global flags in that order', async () => {
    await driver({
      root: '/run/containerd/runsc',
      dialect: 'runsc',
      systemdCgroup: true,
      options: { platform: 'ptrace', network: 'none', debug: true, overlay: false },
      flags: ['--debug-log=/tmp/runsc/'],
    }).start('c1');
    expect(await standIn.onlyArgs()).toEqual([
      '--root', '/run/containerd/runsc/k8s.io', '--log', join(bundle, 'log.json'), '--log-format', 'json',
      '--systemd-cgroup', '--platform=ptrace', '--network=none', '--debug', '--overlay=false', '--debug-log=/tmp/runsc/',
      'start', 'c1',
    ]);
  });
});

describe('runtime failures', () => {
  it('the last error of this invocation in log.json becomes the message', async () => {
    await writeFile(join(bundle, 'log.json'), '{"level":"error","msg":"an earlier failure","time":"t"}\n');
    await standIn.behave({
      exit: 1,
      log:
        '{"level":"info","msg":"starting","time":"t"}\n' +
        '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"sh\\": executable file not found in $PATH","time":"t"}\n' +
        '{"level":"warning","msg":"cleanup","time":"t"}\n',
    });
    const err = await failure(driver().create({ id: 'c1', pidFile: '/p' }));
    expect(err).toBeInstanceOf(RuntimeCommandError);
    const rce = err as RuntimeCommandError;
    expect(rce.code).toBe(Code.Unknown);
    expect(rce.message).toBe('runc create failed: unable to start container process: exec: "sh": executable file not found in $PATH');
    expect(rce.runtimeMessage).toBe(rce.message);
    expect(rce.exitCode).toBe(1);
    expect(rce.argv).toEqual([standIn.binary, ...globals(), 'create', '--bundle', bundle, '--pid-file', '/p', 'c1']);
  });

  it('runsc\'s log entries without newlines between them are read too', async () => {
    await standIn.behave({
      exit: 128,
      log: '{"msg":"first","level":"error","time":"t"}{"msg":"loading container: file does not exist","level":"error","time":"t"}',
    });
    const err = await failure(driver({ dialect: 'runsc' }).delete('c1'));
    expect(err.message).toBe('loading container: file does not exist');
  });

  it('without a logged error, the first line of the runtime\'s stderr is the message', async () => {
    await standIn.behave({ exit: 253, stderr: '\nerror opening file `/run/crun/c1/status`: No such file or directory\nUsage: crun\n' });
    const err = await failure(driver({ dialect: 'crun' }).ps('c1'));
    expect(err.message).toBe('error opening file `/run/crun/c1/status`: No such file or directory');
  });

  it('with neither, the message is the exit status', async () => {
    await standIn.behave({ exit: 3 });
    const err = await failure(driver().pause('c1'));
    expect(err.message).toBe(`${standIn.binary} pause did not terminate successfully: exit status 3`);
    expect((err as RuntimeCommandError).exitCode).toBe(3);
  });

  it('an invocation past its deadline is killed and fails with DeadlineExceeded naming the command', async () => {
    await standIn.behave({ sleepSeconds: 30 });
    const err = await failure(driver({}, 300).kill('c1', 15));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.message).toBe(`${standIn.binary} kill did not finish within 300 ms and was killed`);
    const [{ pid }] = await standIn.invocations();
    await expect.poll(() => isAlive(pid), { timeout: 5_000 }).toBe(false);
  });

  it('a binary missing from PATH is refused up front, naming the config key', () => {
    let err: unknown;
    try {
      driver({ name: 'runsc', binary: 'tsshim-no-such-runtime', binarySource: 'runtimes.runsc.binary in /etc/tsshim/config.toml' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(Code.FailedPrecondition);
    expect((err as StatusError).message).toBe(
      'runtime binary "tsshim-no-such-runtime" not found in PATH (runtimes.runsc.binary in /etc/tsshim/config.toml)',
    );
  });

  it('a configured name is resolved to its absolute path in PATH', () => {
    const d = new RuntimeDriver(standIn.runtime({ binary: 'runc', env: { PATH: `/nonexistent:${standIn.dir}` } }), { namespace: 'n', bundle });
    expect(d.binary).toBe(standIn.binary);
  });

  it('a command the dialect lacks is Unimplemented and nothing is spawned', async () => {
    const d = driver({ name: 'gvisor', dialect: 'runsc' });
    const err = await failure(d.update('c1', '{}'));
    expect(err.code).toBe(Code.Unimplemented);
    expect(err.message).toBe('gvisor does not support update');
    const flagErr = await failure(d.create({ id: 'c1', pidFile: '/p', noPivot: true }));
    expect(flagErr.code).toBe(Code.Unimplemented);
    expect(flagErr.message).toBe('gvisor does not support create --no-pivot');
    expect(await standIn.invocations()).toEqual([]);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a container the runtime runs in its pod sandbox (a gVisor pod container)', () => {
  const POD_CONTAINER = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'sb' };
  const runscDriver = (annotations: Record<string, string>, dialect: 'runsc' | 'runc' = 'runsc') =>
    new RuntimeDriver(standIn.runtime({ dialect }), { namespace: 'k8s.io', bundle, annotations });

  it('only runsc and only a CRI application container get an exit source; the pause container and runc do not', () => {
    expect(runscDriver(POD_CONTAINER).waitInitExit).toBeTypeOf('function');
    expect(runscDriver({ 'io.kubernetes.cri.container-type': 'sandbox' }).waitInitExit).toBeUndefined();
    expect(runscDriver({}).waitInitExit).toBeUndefined();
    expect(runscDriver(POD_CONTAINER, 'runc').waitInitExit).toBeUndefined();
  });

  it('create gets no container stdio and start does, as gVisor attaches it at start', async () => {
    const outPath = join(bundle, 'out');
    const out = openSync(outPath, 'w');
    try {
      const d = runscDriver(POD_CONTAINER);
      await d.create({ id: 'c1', pidFile: '/p', io: { stdin: 'ignore', stdout: out, stderr: 'ignore' } });
      await standIn.behave({ stdout: 'stdout of start\n' });
      await d.start('c1', { stdin: 'ignore', stdout: out, stderr: 'ignore' });
    } finally {
      closeSync(out);
    }
    expect(await readFile(outPath, 'utf8')).toBe('stdout of start\n');
  });

  it('takes the exit status from `wait <id>`', async () => {
    await standIn.behave({ stdout: '{"id":"c1","exitStatus":137}\n' });
    await expect(runscDriver(POD_CONTAINER).waitInitExit!('c1')).resolves.toBe(137);
    expect(await standIn.onlyArgs()).toEqual([...globals(), 'wait', 'c1']);
  });

  it('a wait that prints no exit status, or fails, is an error with what it said', async () => {
    await standIn.behave({ stdout: 'nonsense\n' });
    expect((await failure(runscDriver(POD_CONTAINER).waitInitExit!('c1'))).message).toMatch(/wait printed no exit status: "nonsense\\n"/);
    await standIn.behave({ exit: 1, stderr: 'container "c1" does not exist\n' });
    expect((await failure(runscDriver(POD_CONTAINER).waitInitExit!('c1'))).message).toBe('container "c1" does not exist');
  });
});
