import { promises as fsp, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Code, StatusError } from '../errors/index.js';
import type { ChildStdioSet as Stdio } from '../sys/index.js';
import { lookPath, missingBinaryText, runtimeEnv } from './binary-path.js';
import { DIALECTS, type Dialect, type RuntimeCommand } from './dialects.js';
import { RuntimeCommandError } from './runtime-errors.js';
import { lastErrorMessage } from './runtime-log.js';
import { firstLine, readVersion, releaseProblem } from './runtime-version.js';
import { runProcess } from './run-process.js';
import type { ResolvedRuntime } from './select.js';

/**
 * Raw fds handed to the runtime. On create/exec/restore the container inherits them, so they
 * are given as they are and never replaced by pipes of ours: a detached runtime passes its
 * stdio on to the container and a pipe would stay open for the container's whole life.
 */
export interface RuntimeSpawnIO {
  readonly stdin?: number | 'ignore';
  readonly stdout?: number | 'ignore';
  readonly stderr?: number | 'ignore';
}

export interface RuntimeContext {
  readonly namespace: string;
  readonly bundle: string;
  readonly logger?: Logger;
  /** Per invocation; runsc create (sandbox boot) takes seconds. */
  readonly timeoutMs?: number;
  /** Told of every finished invocation (tracing). */
  readonly onInvocation?: (inv: RuntimeInvocation) => void;
  /** The OCI spec's annotations: they say whether the container runs in a pod's sandbox. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** One runtime run, as the trace records it. */
export interface RuntimeInvocation {
  readonly command: RuntimeCommand;
  readonly argv: readonly string[];
  readonly cwd: string;
  /** What the config adds to the shim's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly ms: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stderr: string;
}

export interface CreateOptions {
  readonly id: string;
  readonly pidFile: string;
  readonly consoleSocket?: string;
  readonly noPivot?: boolean;
  readonly noNewKeyring?: boolean;
  readonly io?: RuntimeSpawnIO;
}

export interface ExecOptions {
  readonly id: string;
  /** JSON of an OCI `process` object. */
  readonly processJson: string;
  readonly pidFile: string;
  readonly consoleSocket?: string;
  readonly io?: RuntimeSpawnIO;
}

/** containerd.runc.v1.CheckpointOptions, in the driver's words. */
export interface CheckpointOptions {
  readonly id: string;
  readonly imagePath: string;
  /** Default `<bundle>/work/criu-work`, as the reference shim. */
  readonly workPath?: string;
  /** False for CheckpointOptions.exit. */
  readonly leaveRunning: boolean;
  readonly tcpEstablished?: boolean;
  readonly externalUnixSockets?: boolean;
  /** CheckpointOptions.terminal. */
  readonly shellJob?: boolean;
  readonly fileLocks?: boolean;
  readonly cgroupsMode?: string;
  readonly emptyNamespaces?: readonly string[];
}

export interface RestoreOptions {
  readonly id: string;
  readonly imagePath: string;
  /** Default `<bundle>/work`, as the reference shim. */
  readonly workPath?: string;
  readonly parentPath?: string;
  readonly pidFile: string;
  readonly consoleSocket?: string;
  readonly noPivot?: boolean;
  readonly io?: RuntimeSpawnIO;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Drives one OCI runtime through runc's command line for one bundle.
 *
 * Go's runc shim sets Pdeathsig=SIGKILL on every runtime it starts; Node cannot. Instead each
 * invocation has a deadline at which the runtime is SIGKILLed, and runc's own helpers
 * (runc init) die with their parent.
 */
export class RuntimeDriver {
  /** Absolute path of the runtime binary. */
  readonly binary: string;
  readonly runtime: ResolvedRuntime;
  private readonly dialect: Dialect;
  private readonly ctx: RuntimeContext;
  private readonly env: NodeJS.ProcessEnv;
  /**
   * Present for a container the runtime runs inside its pod's sandbox (a gVisor pod's
   * application container). Its pid file names the sandbox, no process of the container's own,
   * so there is nothing for the shim to reap: the exit status comes from `<runtime> wait`,
   * which this resolves with. Its stdio is attached by `start`, not `create`, as gVisor's shim
   * does, and neither command's pipes are waited for: the sandbox keeps what it is handed.
   */
  readonly waitInitExit?: (id: string) => Promise<number>;
  private readonly inPodSandbox: boolean;

  constructor(rt: ResolvedRuntime, ctx: RuntimeContext) {
    this.runtime = rt;
    this.ctx = ctx;
    this.dialect = DIALECTS[rt.dialect];
    this.env = runtimeEnv(rt.env);
    const binary = lookPath(rt.binary, this.env.PATH);
    if (!binary) {
      // Not NotFound: containerd reads NotFound on Delete as "already gone" and would drop the task.
      throw new StatusError(Code.FailedPrecondition, `${missingBinaryText(rt.binary)} (${rt.binarySource})`);
    }
    this.binary = binary;
    this.inPodSandbox = this.dialect.inPodSandbox?.(ctx.annotations ?? {}) ?? false;
    if (this.inPodSandbox) this.waitInitExit = (id) => this.wait(id);
  }

  /** The `[runtimes.X]` name, as users know the runtime. */
  get name(): string {
    return this.runtime.name;
  }

  /** Where the runtime writes its JSON log, and where its errors are read back from. */
  get logPath(): string {
    return join(this.ctx.bundle, 'log.json');
  }

  async create(o: CreateOptions): Promise<void> {
    const args = [
      'create', '--bundle', this.ctx.bundle, '--pid-file', o.pidFile,
      ...optional('--console-socket', o.consoleSocket),
      ...(o.noPivot ? ['--no-pivot'] : []),
      ...(o.noNewKeyring ? ['--no-new-keyring'] : []),
      o.id,
    ];
    if (this.inPodSandbox) {
      await this.run('create', args, { settleOnExit: true });
      return;
    }
    await this.run('create', args, { stdio: containerStdio(o.io) });
  }

  /** `io`: the init's stdio, which only a container in a pod's sandbox takes here. */
  async start(id: string, io?: RuntimeSpawnIO): Promise<void> {
    if (this.inPodSandbox) {
      await this.run('start', ['start', id], { stdio: containerStdio(io), settleOnExit: true });
      return;
    }
    await this.run('start', ['start', id]);
  }

  /**
   * `<runtime> wait <id>`: lasts until the container exits, then prints
   * `{"id": ..., "exitStatus": N}` (128 + signal for a killed one). No deadline: it is as long
   * as the container's life.
   */
  private async wait(id: string): Promise<number> {
    const argv = [this.binary, ...this.globalArgs(), 'wait', id];
    this.ctx.logger?.debug({ argv }, 'runtime invocation');
    const logStart = fileSize(this.logPath);
    let result;
    try {
      result = await runProcess(argv[0], argv.slice(1), { cwd: this.ctx.bundle, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (cause) {
      throw new StatusError(Code.FailedPrecondition, `cannot run ${this.binary} wait: ${(cause as Error).message}`, { cause });
    }
    if (result.kind !== 'exited') throw new RuntimeCommandError(Code.DeadlineExceeded, `${this.binary} wait was killed`, { exitCode: null, argv });
    if (result.exitCode !== 0) {
      const logged = lastErrorMessage(await readFrom(this.logPath, logStart));
      throw new RuntimeCommandError(Code.Unknown, logged ?? firstLine(result.stderr) ?? exitText(this.binary, 'wait', result), { exitCode: result.exitCode, argv });
    }
    let status: unknown;
    try {
      status = (JSON.parse(result.stdout) as { exitStatus?: unknown }).exitStatus;
    } catch {
      status = undefined;
    }
    if (!Number.isInteger(status)) {
      throw new StatusError(Code.Internal, `${this.name} wait printed no exit status: ${JSON.stringify(result.stdout.slice(0, 200))}`);
    }
    return status as number;
  }

  /**
   * The process spec travels in a private temp file, as runc reads it from a path. Written and
   * removed synchronously, like the bundle's files (bundle-files.ts): a small file, on the path
   * of every exec's Start.
   */
  async exec(o: ExecOptions): Promise<void> {
    this.assertSupported('exec', []);
    const processFile = processFilePath();
    // 'wx' refuses a file that exists, so only one this call created is removed below.
    writeFileSync(processFile, o.processJson, { mode: 0o600, flag: 'wx' });
    try {
      const args = [
        'exec', '--process', processFile,
        ...optional('--console-socket', o.consoleSocket),
        '--detach', '--pid-file', o.pidFile, o.id,
      ];
      await this.run('exec', args, { stdio: containerStdio(o.io) });
    } finally {
      try {
        unlinkSync(processFile);
      } catch (err) {
        this.ctx.logger?.warn({ err, path: processFile }, 'could not remove the exec process spec');
      }
    }
  }

  async kill(id: string, signal: number, all = false): Promise<void> {
    if (!Number.isInteger(signal) || signal < 0) {
      throw new StatusError(Code.InvalidArgument, `invalid signal ${signal}`);
    }
    await this.run('kill', ['kill', ...(all ? ['--all'] : []), id, String(signal)]);
  }

  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.run('delete', ['delete', ...(opts.force ? ['--force'] : []), id]);
  }

  async pause(id: string): Promise<void> {
    await this.run('pause', ['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run('resume', ['resume', id]);
  }

  /** Pids of every process in the container. */
  async ps(id: string): Promise<number[]> {
    const args = ['ps', '--format', 'json', id];
    const { stdout } = await this.run('ps', args);
    let pids: unknown;
    try {
      pids = JSON.parse(stdout);
    } catch (cause) {
      throw new StatusError(Code.Internal, `${this.name} ps printed no JSON: ${JSON.stringify(stdout.slice(0, 200))}`, { cause });
    }
    // A Go nil slice marshals as null: an empty container.
    if (pids === null) return [];
    if (!Array.isArray(pids) || !pids.every((p) => Number.isInteger(p))) {
      throw new StatusError(Code.Internal, `${this.name} ps printed no array of pids: ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    return pids;
  }

  /** `resourcesJson`: an OCI `linux.resources` object. */
  async update(id: string, resourcesJson: string): Promise<void> {
    await this.run('update', ['update', '--resources=-', id], { input: resourcesJson });
  }

  async checkpoint(o: CheckpointOptions): Promise<void> {
    const args = [
      'checkpoint', '--image-path', o.imagePath,
      '--work-path', o.workPath ?? join(this.ctx.bundle, 'work', 'criu-work'),
      ...(o.tcpEstablished ? ['--tcp-established'] : []),
      ...(o.externalUnixSockets ? ['--ext-unix-sk'] : []),
      ...(o.shellJob ? ['--shell-job'] : []),
      ...(o.fileLocks ? ['--file-locks'] : []),
      ...optional('--manage-cgroups-mode', o.cgroupsMode),
      ...(o.emptyNamespaces ?? []).flatMap((ns) => ['--empty-ns', ns]),
      ...(o.leaveRunning ? ['--leave-running'] : []),
      o.id,
    ];
    await this.run('checkpoint', args);
  }

  async restore(o: RestoreOptions): Promise<void> {
    const args = [
      'restore', '--image-path', o.imagePath,
      '--work-path', o.workPath ?? join(this.ctx.bundle, 'work'),
      ...optional('--parent-path', o.parentPath),
      '--detach', '--pid-file', o.pidFile,
      ...optional('--console-socket', o.consoleSocket),
      ...(o.noPivot ? ['--no-pivot'] : []),
      // Single dash, as go-runc emits it; runc's flag parser takes both forms.
      '-no-subreaper',
      '--bundle', this.ctx.bundle, o.id,
    ];
    await this.run('restore', args, { stdio: containerStdio(o.io) });
  }

  /** First line of `<binary> --version`, e.g. "runc version 1.1.5". */
  async version(): Promise<string> {
    const v = await readVersion(this.binary, this.env, this.ctx.timeoutMs);
    if (!v.ok) throw new RuntimeCommandError(v.code, v.message, { exitCode: null, argv: [this.binary, '--version'] });
    return firstLine(v.output) ?? '';
  }

  private globalArgs(): string[] {
    const rt = this.runtime;
    return [
      '--root', join(rt.root, this.ctx.namespace),
      '--log', this.logPath,
      '--log-format', 'json',
      ...(rt.systemdCgroup ? ['--systemd-cgroup'] : []),
      ...Object.entries(rt.options).map(([key, value]) => (value === true ? `--${key}` : `--${key}=${value}`)),
      ...rt.flags,
    ];
  }

  private assertSupported(command: RuntimeCommand, args: readonly string[]): void {
    if (this.runtime.systemdCgroup && !this.dialect.systemdCgroup) {
      throw new StatusError(Code.Unimplemented, `${this.name} does not support --systemd-cgroup`);
    }
    if (!this.dialect.commands.has(command)) {
      throw new StatusError(Code.Unimplemented, `${this.name} does not support ${command}`);
    }
    const unsupported = this.dialect.unsupportedFlags[command];
    const flag = unsupported && args.find((a) => unsupported.has(a));
    if (flag) {
      throw new StatusError(Code.Unimplemented, `${this.name} does not support ${command} ${flag}`);
    }
  }

  /**
   * One runtime command with the global flags. Without container stdio its stdout and
   * stderr are captured: stdout is ps's answer, stderr the fallback error text for failures
   * that never reach the log (crun ps, Go flag errors, which are followed by the usage text).
   */
  private async run(
    command: RuntimeCommand,
    args: readonly string[],
    opts: { stdio?: Stdio; input?: string; settleOnExit?: boolean } = {},
  ): Promise<{ stdout: string }> {
    this.assertSupported(command, args);
    const unusable = await releaseProblem(this.dialect, this.binary, this.env);
    // The log accumulates over the container's life; only this invocation's entries count.
    const logStart = fileSize(this.logPath);
    if (unusable) throw new StatusError(Code.Unimplemented, `${this.name} (${this.binary}): ${unusable}`);
    const argv = [this.binary, ...this.globalArgs(), ...args];
    const stdio: Stdio = opts.stdio ?? [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
    const result = await this.spawn(command, argv, { stdio, input: opts.input, settleOnExit: opts.settleOnExit });
    if (result.exitCode === 0) return result;
    const logged = lastErrorMessage(await readFrom(this.logPath, logStart));
    const message = logged ?? firstLine(result.stderr) ?? exitText(this.binary, command, result);
    const unknown = this.dialect.unknownCommand;
    if (unknown?.pattern.test(message)) {
      const cause = new RuntimeCommandError(Code.Unknown, message, { exitCode: result.exitCode, argv });
      throw new StatusError(Code.Unimplemented, `${this.name} (${this.binary}) has no ${command} command (${message}): ${unknown.hint}`, { cause });
    }
    throw new RuntimeCommandError(Code.Unknown, message, { exitCode: result.exitCode, argv });
  }

  private async spawn(
    command: RuntimeCommand,
    argv: readonly string[],
    opts: { stdio: Stdio; input?: string; settleOnExit?: boolean },
  ): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
    const timeoutMs = this.ctx.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.ctx.logger?.debug({ argv }, 'runtime invocation');
    let result;
    const started = performance.now();
    try {
      result = await runProcess(argv[0], argv.slice(1), {
        cwd: this.ctx.bundle,
        env: this.env,
        stdio: opts.stdio,
        input: opts.input,
        timeoutMs,
        settleOn: opts.settleOnExit ? 'exit' : 'close',
      });
    } catch (cause) {
      throw new StatusError(Code.FailedPrecondition, `cannot run ${this.binary} ${command}: ${(cause as Error).message}`, { cause });
    }
    this.ctx.onInvocation?.({
      command, argv, cwd: this.ctx.bundle, env: this.runtime.env, ms: performance.now() - started,
      exitCode: result.kind === 'exited' ? result.exitCode : null,
      signal: result.kind === 'exited' ? result.signal : 'SIGKILL',
      timedOut: result.kind === 'timed-out',
      stderr: result.kind === 'exited' ? result.stderr : '',
    });
    if (result.kind === 'timed-out') {
      const message = `${this.binary} ${command} did not finish within ${timeoutMs} ms and was killed`;
      throw new RuntimeCommandError(Code.DeadlineExceeded, message, { exitCode: null, argv });
    }
    return result;
  }
}

function optional(flag: string, value: string | undefined): string[] {
  return value ? [flag, value] : [];
}

function containerStdio(io: RuntimeSpawnIO = {}): Stdio {
  return [io.stdin ?? 'ignore', io.stdout ?? 'ignore', io.stderr ?? 'ignore'];
}

/** Go's wording (exec.ExitError), which containerd users know from the reference shim. */
function exitText(binary: string, command: string, r: { exitCode: number | null; signal: NodeJS.Signals | null }): string {
  const status = r.signal ? `signal: ${r.signal}` : `exit status ${r.exitCode}`;
  return `${binary} ${command} did not terminate successfully: ${status}`;
}

/** A stat, synchronous: metadata only, microseconds, before every runtime call. */
function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  let handle;
  try {
    handle = await fsp.open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    // A log truncated meanwhile (someone rotated it) is read whole.
    const start = size < offset ? 0 : offset;
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** `runc-process<random>` under $XDG_RUNTIME_DIR (or the temp dir); written readable by us only. */
function processFilePath(): string {
  const dir = process.env.XDG_RUNTIME_DIR || tmpdir();
  // node:crypto is loaded on first use: it would cost every daemon's start-up tens of milliseconds.
  return join(dir, `runc-process${process.getBuiltinModule('node:crypto').randomBytes(8).toString('hex')}`);
}
