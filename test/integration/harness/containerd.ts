import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import {
  findLeftovers,
  forceDeleteRuncState,
  killAndWait,
  orphanedContainerInits,
  processesUnder,
  removeDir,
  removeShimSockets,
  startTicks,
  taskBundles,
  tasksInLog,
  unmountAll,
} from './cleanup.js';
import { parseContainerdVersion, renderConfig, type ContainerdVersion } from './config.js';
import { CtrEventStream, type EventStream } from './events.js';
import { run, RunTimeoutError, type SlowReader } from './run.js';

export interface CtrOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** read ctr's stdout slowly, as a slow consumer of a pipe would (see RunOptions.slowReader) */
  slowReader?: SlowReader;
}

export interface CtrResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface Containerd {
  /** private temp dir holding root/, state/, config.toml, containerd.log */
  readonly dir: string;
  /** gRPC socket path (bare path) */
  readonly address: string;
  readonly ttrpcAddress: string;
  /** e.g. "1.6.20" */
  readonly version: string;
  readonly namespace: string;
  /** PID of the containerd daemon (a new one after restart()) */
  readonly pid: number;
  /** the containerd binary this daemon runs */
  readonly binary: string;
  /**
   * Runs `ctr --address <address> --namespace <ns> ...args` (adding `--fifo-dir <dir>/fifo` to
   * run, task start and task exec unless args name one). Never throws on a non-zero exit;
   * throws RunTimeoutError if ctr does not finish within timeoutMs (default 45 s).
   */
  ctr(args: string[], opts?: CtrOptions): Promise<CtrResult>;
  /** Starts `ctr events`; await `.ready` before causing the events you want to see. */
  events(): EventStream;
  /** containerd's log so far (still available after stop()); restarts append to the same log */
  logs(): string;
  /**
   * Stops the daemon as a service manager would (SIGTERM to its pid, waits for it to exit;
   * SIGKILL after 10 s) and starts the same binary again with the same config, root and state
   * dirs and environment, like a containerd upgrade or service restart. Shims and containers
   * keep running meanwhile. `whileStopped` runs while no daemon is up. Resolves once the new
   * daemon answers. An event stream started before ends with the old daemon.
   */
  restart(opts?: RestartOptions): Promise<void>;
  /**
   * Removes everything this daemon created: tasks, containers, the daemon, shim and container
   * processes, mounts, and dir. Rejects (after cleaning up what it can) if something survived.
   */
  stop(): Promise<void>;
}

export interface RestartOptions {
  /** runs after the old daemon has exited and before the new one starts */
  whileStopped?: () => void | Promise<void>;
  /** how long to wait for the new daemon to answer; default 30 s */
  startTimeoutMs?: number;
}

export interface StartOptions {
  /**
   * containerd binary; default $TSSHIM_TEST_CONTAINERD, else /usr/bin/containerd. The test
   * runner (scripts/test.mjs) sets TSSHIM_TEST_CONTAINERD to run the suite on each version.
   */
  containerd?: string;
  /** ctr binary; default the `ctr` next to the containerd binary, else `ctr` on PATH */
  ctrBin?: string;
  /** dirs put first on containerd's PATH, e.g. projectBinDir() so containerd finds containerd-shim-tsshim-v2 */
  pathPrepend?: string[];
  /** extra environment for containerd (and so for the shims it starts) */
  env?: Record<string, string>;
  namespace?: string;
  /** log at debug level; containerd then also passes -debug to shims */
  debug?: boolean;
  /** how long to wait for the gRPC socket to answer; default 30 s */
  startTimeoutMs?: number;
  /** enables the CRI plugins and appends this TOML (plugin tables in the version's format) to the config */
  criConfig?: string;
  /**
   * A command the daemon is started through, `containerd --config <file>` appended to it, such
   * as an `unshare` into a private mount namespace. It must exec containerd, keeping the pid.
   */
  launchPrefix?: string[];
}

/** The containerd binary tests use unless they name one: $TSSHIM_TEST_CONTAINERD, else the system's. */
export function defaultContainerd(): string {
  const fromEnv = process.env['TSSHIM_TEST_CONTAINERD'];
  // Absolute: the daemon is spawned with its private dir as working directory.
  return fromEnv ? path.resolve(fromEnv) : '/usr/bin/containerd';
}
// Below vitest's 60 s test timeout, so a hung ctr fails with its own stderr rather than as a
// bare test timeout.
const DEFAULT_CTR_TIMEOUT_MS = 45_000;
const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
// Socket paths must stay under the 108-byte sun_path limit, including suffixes such as
// ".ttrpc", so the private dir lives directly in /tmp with a short name.
const DIR_PREFIX = '/tmp/ctd-';

const live = new Set<PrivateContainerd>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort for a test process that exits without calling stop(): everything here is
  // synchronous because nothing else runs in an 'exit' handler.
  const cleanupAll = () => {
    for (const c of live) c.emergencyCleanup();
  };
  process.on('exit', cleanupAll);
  // A worker terminated by a signal skips 'exit' handlers. Clean up first; then, if nobody else
  // handles the signal, die of it as the default action would have.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanupAll();
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.prependListener(sig, onSignal);
  }
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

async function which(name: string, dirs: string[]): Promise<string | undefined> {
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      await fsp.access(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function ctrEnvironment(extra?: Record<string, string>): NodeJS.ProcessEnv {
  // CONTAINERD_* variables would silently override the flags we pass (snapshotter, runtime, …).
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CONTAINERD_')) env[k] = v;
  return { ...env, ...extra };
}

class PrivateContainerd implements Containerd {
  readonly address: string;
  readonly ttrpcAddress: string;
  private readonly logFile: string;
  private readonly streams = new Set<CtrEventStream>();
  private child!: ChildProcess;
  private exited!: Promise<void>;
  private hasExited = false;
  private stopping?: Promise<void>;
  private restarting?: Promise<void>;
  private finalLog?: string;
  // Of the first daemon: container processes started under any later one are younger.
  private readonly daemonStartTicks: number;

  constructor(
    readonly dir: string,
    readonly version: string,
    readonly namespace: string,
    private readonly ctrBin: string,
    private readonly launch: DaemonLaunch,
    child: ChildProcess,
    paths: { grpc: string; ttrpc: string; log: string },
  ) {
    this.address = paths.grpc;
    this.ttrpcAddress = paths.ttrpc;
    this.logFile = paths.log;
    this.attach(child);
    this.daemonStartTicks = startTicks(child.pid!);
  }

  get binary(): string {
    return this.launch.bin;
  }

  private attach(child: ChildProcess): void {
    this.child = child;
    this.hasExited = false;
    this.exited = new Promise((resolve) => {
      const done = () => {
        if (this.child === child) this.hasExited = true;
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) done();
      child.on('exit', done);
    });
  }

  restart(opts: RestartOptions = {}): Promise<void> {
    if (this.stopping) return Promise.reject(new Error(`containerd in ${this.dir} is stopped`));
    if (this.restarting) return Promise.reject(new Error(`containerd in ${this.dir} is already restarting`));
    this.restarting = this.doRestart(opts).finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  private async doRestart(opts: RestartOptions): Promise<void> {
    await this.stopDaemon(10_000);
    await opts.whileStopped?.();
    const child = await spawnDaemon(this.launch);
    this.attach(child);
    await waitUntilAnswering(this, opts.startTimeoutMs ?? 30_000);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.hasExited;
  }

  private get fifoDir(): string {
    return path.join(this.dir, 'fifo');
  }

  private baseArgs(namespace = this.namespace): string[] {
    return ['--address', this.address, '--namespace', namespace];
  }

  async ctr(args: string[], opts: CtrOptions = {}): Promise<CtrResult> {
    try {
      const r = await run(this.ctrBin, [...this.baseArgs(), ...withPrivateFifoDir(args, this.fifoDir)], {
        input: opts.input,
        timeoutMs: opts.timeoutMs ?? DEFAULT_CTR_TIMEOUT_MS,
        env: ctrEnvironment(opts.env),
        slowReader: opts.slowReader,
      });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      if (err instanceof RunTimeoutError) err.message += `\ncontainerd log (tail):\n${tail(this.logs(), 40)}`;
      throw err;
    }
  }

  private async ctrIn(namespace: string, args: string[], timeoutMs = 15_000): Promise<CtrResult | undefined> {
    try {
      return await run(this.ctrBin, [...this.baseArgs(namespace), ...args], { timeoutMs, env: ctrEnvironment() });
    } catch (err) {
      if (err instanceof RunTimeoutError) return undefined;
      throw err;
    }
  }

  events(): EventStream {
    const stream = new CtrEventStream({
      ctrBin: this.ctrBin,
      baseArgs: this.baseArgs(),
      env: ctrEnvironment(),
      publishMarker: async (name) => {
        await this.ctrIn(this.namespace, ['namespaces', 'create', name], 10_000);
      },
      removeMarker: async (name) => {
        await this.ctrIn(this.namespace, ['namespaces', 'remove', name], 10_000);
      },
      describeFailure: () => `containerd log (tail):\n${tail(this.logs(), 40)}`,
    });
    this.streams.add(stream);
    return stream;
  }

  logs(): string {
    if (this.finalLog !== undefined) return this.finalLog;
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.restarting?.catch(() => {});
    await Promise.all([...this.streams].map((s) => s.stop()));
    if (this.running) await this.removeAllTasksAndContainers();
    await this.stopDaemon();
    this.finalLog = this.logs();
    const problems = this.removeEverything();
    live.delete(this);
    if (problems) throw new Error(`containerd in ${this.dir} left things behind:\n${problems}\ncontainerd log (tail):\n${tail(this.finalLog, 40)}`);
  }

  // The way a user would clean up: through containerd, so shims get their normal shutdown.
  private async removeAllTasksAndContainers(): Promise<void> {
    const nsList = await this.ctrIn(this.namespace, ['namespaces', 'ls', '-q']);
    const namespaces = new Set(lines(nsList));
    namespaces.add(this.namespace);
    for (const ns of namespaces) {
      const tasks = lines(await this.ctrIn(ns, ['tasks', 'ls', '-q']));
      await Promise.all(
        tasks.map(async (id) => {
          await this.ctrIn(ns, ['tasks', 'kill', '-s', 'SIGKILL', id]);
          await this.ctrIn(ns, ['tasks', 'delete', '--force', id]);
        }),
      );
      const containers = lines(await this.ctrIn(ns, ['containers', 'ls', '-q']));
      await Promise.all(containers.map((id) => this.ctrIn(ns, ['containers', 'delete', id])));
    }
  }

  private async stopDaemon(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Synchronous teardown of whatever is left once the daemon is gone; returns a description of survivors. */
  private removeEverything(): string {
    const bundles = taskBundles(path.join(this.dir, 'state'));
    const victims = [...orphanedContainerInits(bundles, this.daemonStartTicks), ...processesUnder(this.dir).map((p) => p.pid)];
    const survivors = killAndWait(victims);
    forceDeleteRuncState(bundles, this.dir);
    removeShimSockets(this.address, [...bundles, ...tasksInLog(this.logs())]);
    const stuckMounts = unmountAll(this.dir);
    let rmError = '';
    try {
      removeDir(this.dir);
    } catch (err) {
      rmError = String(err);
    }
    const left = findLeftovers(this.dir);
    const out: string[] = [];
    if (survivors.length) out.push(`processes that did not die: ${survivors.join(', ')}`);
    if (left.processes.length) out.push(`processes: ${left.processes.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
    if (stuckMounts.length || left.mounts.length) out.push(`mounts: ${[...new Set([...stuckMounts, ...left.mounts])].join(', ')}`);
    if (left.dirExists) out.push(`directory still exists${rmError ? `: ${rmError}` : ''}`);
    return out.join('\n');
  }

  emergencyCleanup(): void {
    if (!live.delete(this)) return;
    for (const s of this.streams) s.killNow();
    if (this.running) this.child.kill('SIGKILL');
    try {
      this.removeEverything();
    } catch {
      // the process is exiting; nothing can report this any more
    }
  }
}

// ctr puts a task's stdio FIFOs in /run/containerd/fifo/<random>/ and does not always remove
// that dir (never when a shim dies), so they would pile up on the host. Where the subcommand
// takes --fifo-dir and the caller did not choose one, point it into our dir instead; where the
// FIFOs live makes no difference to containerd or the shim, which get their paths.
const FIFO_SUBCOMMANDS = [['run'], ['task', 'start'], ['task', 'exec'], ['tasks', 'start'], ['tasks', 'exec'], ['t', 'start'], ['t', 'exec']];

function withPrivateFifoDir(args: string[], fifoDir: string): string[] {
  if (args.includes('--fifo-dir') || args.some((a) => a.startsWith('--fifo-dir='))) return args;
  const cmd = FIFO_SUBCOMMANDS.find((words) => words.every((w, i) => args[i] === w));
  if (!cmd) return args;
  return [...args.slice(0, cmd.length), '--fifo-dir', fifoDir, ...args.slice(cmd.length)];
}

function lines(r: CtrResult | undefined): string[] {
  if (!r || r.code !== 0) return [];
  return r.stdout
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

// A plugin that fails to load only produces a warning in containerd's log and an obscure
// "unknown service" from ctr much later, so check up front that what tests use is there.
const REQUIRED_PLUGINS = [
  ['io.containerd.grpc.v1', 'tasks'],
  ['io.containerd.grpc.v1', 'events'],
  ['io.containerd.snapshotter.v1', 'overlayfs'],
];

async function requirePlugins(c: PrivateContainerd): Promise<void> {
  const r = await c.ctr(['plugins', 'ls'], { timeoutMs: 10_000 });
  const table = r.stdout.toString('utf8');
  const missing = REQUIRED_PLUGINS.filter(
    ([type, id]) => !table.split('\n').some((l) => new RegExp(`^${type}\\s+${id}\\s.*\\sok\\s*$`).test(l)),
  );
  if (r.code === 0 && missing.length === 0) return;
  throw new Error(
    `containerd in ${c.dir} is missing plugins ${missing.map((m) => m.join('.')).join(', ')}:\n${r.stderr}${table}\nlog:\n${tail(c.logs(), 60)}`,
  );
}

export async function containerdVersion(bin = defaultContainerd()): Promise<ContainerdVersion> {
  const r = await run(bin, ['--version'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${bin} --version failed (${r.code}): ${r.stderr}`);
  return parseContainerdVersion(r.stdout.toString('utf8'));
}

interface DaemonLaunch {
  prefix: string[];
  bin: string;
  config: string;
  log: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

async function spawnDaemon(l: DaemonLaunch): Promise<ChildProcess> {
  const logFd = fs.openSync(l.log, 'a');
  let child: ChildProcess;
  try {
    const [cmd, ...args] = [...l.prefix, l.bin, '--config', l.config];
    child = spawn(cmd!, args, { cwd: l.cwd, env: l.env, stdio: ['ignore', logFd, logFd] });
  } finally {
    fs.closeSync(logFd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child;
}

/** Waits until the daemon answers `ctr version` and has the plugins tests need; throws with its log otherwise. */
async function waitUntilAnswering(c: PrivateContainerd, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!c.running) throw new Error(`containerd in ${c.dir} exited during startup; log:\n${tail(c.logs(), 60)}`);
    if (fs.existsSync(c.address)) {
      const r = await c.ctr(['version'], { timeoutMs: 5000 }).catch(() => undefined);
      if (r?.code === 0) {
        await requirePlugins(c);
        return;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`containerd in ${c.dir} did not answer on ${c.address} within ${timeoutMs} ms; log:\n${tail(c.logs(), 60)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startContainerd(opts: StartOptions = {}): Promise<Containerd> {
  const bin = path.resolve(opts.containerd ?? defaultContainerd());
  const binDir = path.dirname(path.resolve(bin));
  const ctrBin = opts.ctrBin ?? (await which('ctr', [binDir])) ?? 'ctr';
  const version = await containerdVersion(bin);

  const dir = await fsp.mkdtemp(DIR_PREFIX);
  const paths = {
    root: path.join(dir, 'root'),
    state: path.join(dir, 'state'),
    grpc: path.join(dir, 'c.sock'),
    ttrpc: path.join(dir, 'c.sock.ttrpc'),
    opt: path.join(dir, 'opt'),
    log: path.join(dir, 'containerd.log'),
    config: path.join(dir, 'config.toml'),
    tmp: path.join(dir, 'tmp'),
  };
  await fsp.mkdir(paths.tmp);
  await fsp.writeFile(paths.config, renderConfig(version, paths, opts.debug ?? false, opts.criConfig));

  // The containerd binary's own directory comes right after pathPrepend so that an unpacked
  // containerd release finds its own containerd-shim-runc-v2 rather than the system's.
  const pathDirs = [...(opts.pathPrepend ?? []), binDir, ...SYSTEM_PATH];
  // A clean environment, like a service manager gives containerd; the shims inherit it.
  const env: NodeJS.ProcessEnv = {
    PATH: [...new Set(pathDirs)].join(':'),
    // Temporary mounts made while unpacking images go under TMPDIR; keep them inside dir.
    TMPDIR: paths.tmp,
    HOME: process.env['HOME'] ?? '/root',
    ...opts.env,
  };

  const launch: DaemonLaunch = { prefix: opts.launchPrefix ?? [], bin, config: paths.config, log: paths.log, cwd: dir, env };
  let child: ChildProcess;
  try {
    child = await spawnDaemon(launch);
  } catch (err) {
    removeDir(dir);
    throw err;
  }

  const c = new PrivateContainerd(dir, version.version, opts.namespace ?? 'default', ctrBin, launch, child, paths);
  live.add(c);
  installExitHook();

  try {
    await waitUntilAnswering(c, opts.startTimeoutMs ?? 30_000);
  } catch (err) {
    await c.stop().catch(() => {});
    throw err;
  }
  return c;
}
