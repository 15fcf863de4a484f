import { createWriteStream, fchownSync, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import net from 'node:net';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { bytesQueued, createPipe, openPtyStream, setWinsize, spliceCopy, type SpliceCopy } from '../sys/index.js';
import { StatusError, Code } from '../errors/index.js';
import { BinaryLogger } from './binary-logger.js';
import { ConsoleSocket } from './console-socket.js';
import { closeFd, holdFifoOpenForWrite, openFifoProbe, openFifoReadFd, openFifoReader, openFifoWriteFd, openFifoWriter } from './fifo.js';
import { awaitDelivery, DELIVERY_STALL_MS, type DeliveryReport, type OutputProbe } from './output-delivery.js';
import { parseStdio, type StdioTarget } from './stdio-uri.js';

/** Reference shim: the terminal must arrive within 30 s of the runtime call returning. */
const CONSOLE_TIMEOUT_MS = 30_000;
/**
 * After a terminal process has exited, how long its pty may stay silent before the master is
 * closed. Normally the last slave closes with the process and the master reports end of file
 * at once; this only matters when something the process left behind still holds the terminal.
 */
const TERMINAL_IDLE_MS = 500;

export interface StdioConfig {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** File descriptors handed to the runtime binary, which passes them on to the container process. */
export interface RuntimeStdio {
  stdin: number | 'ignore';
  stdout: number | 'ignore';
  stderr: number | 'ignore';
}

/** Whose stdio this is; a `binary://` logger receives it. */
export interface IOContext {
  /** The container id for an init, the exec id for an exec (CONTAINER_ID, as the reference shim). */
  id: string;
  namespace: string;
  bundle: string;
  logger: Logger;
  /**
   * io_uid/io_gid of the task options: the owner of the stdio pipes, so that a container process
   * running as that user (a user namespace) can reopen them, as the reference shim does.
   */
  ioOwner?: IOOwner;
}

export interface IOOwner {
  uid: number;
  gid: number;
}

type CopyTarget = Extract<StdioTarget, { kind: 'fifo' | 'file' }>;

interface Destination {
  stream: Writable;
  release: () => Promise<void>;
  /** What the destination's reader has not taken yet (a FIFO's or a logger pipe's contents). */
  unread?: () => number;
}

/** FIONREAD on an fd that may have been closed under us counts as empty: its data is gone. */
function queued(fd: number | undefined): number {
  if (fd === undefined) return 0;
  try {
    return bytesQueued(fd);
  } catch {
    return 0;
  }
}

/**
 * The stdio plumbing of one process (init or exec).
 *
 * Without a terminal: a real pipe per wanted stream (never a socketpair: `echo > /dev/stdout`
 * fails with ENXIO on a socket), copied to or from containerd's FIFOs or a log file with
 * back-pressure end to end, or handed straight to a `binary://` logger.
 *
 * With a terminal: a console socket for the runtime, then the pty master it sends, copied from
 * the stdin FIFO and to the stdout destination; stderr is unused (spec §6.4).
 *
 * Protocol: `open` before the runtime call (pass `runtimeStdio` and `consoleSocket`), then
 * `runtimeStarted` once it has returned, `processExited` when the process is reaped.
 */
export class ProcessIO {
  readonly runtimeStdio: RuntimeStdio = { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' };
  /** Child ends we keep only until the runtime has inherited them. */
  private childFds: number[] = [];
  private stdinHoldFd: number | undefined;
  private readonly sockets: net.Socket[] = [];
  private readonly splices: SpliceCopy[] = [];
  private readonly probes: OutputProbe[] = [];
  private readonly probeFds: number[] = [];
  /** Where the reader stood when a delivery wait last gave up on it. */
  private abandoned: { pending: number; taken: number } | undefined;
  private readonly files = new Map<string, { stream: WriteStream; users: number }>();
  private binaryLogger: BinaryLogger | undefined;
  private terminal: Terminal | undefined;
  private closed = false;

  private constructor(private readonly ctx: IOContext) {}

  static async open(cfg: StdioConfig, ctx: IOContext): Promise<ProcessIO> {
    const io = new ProcessIO(ctx);
    try {
      const stdout = parseStdio(cfg.stdout);
      const stderr = parseStdio(cfg.stderr);
      if (stderr.kind === 'binary' && stdout.kind !== 'binary') {
        throw new StatusError(Code.InvalidArgument, 'a binary:// logger must be given as stdout');
      }
      if (stdout.kind === 'binary') {
        // As the reference shim: the stdout URI names the logger, which takes stderr too.
        io.binaryLogger = await BinaryLogger.start(stdout.path, stdout.args, ctx, ctx.logger);
        const logger = io.binaryLogger;
        if (!cfg.terminal) io.probes.push({ pending: () => logger.unread(), taken: () => 0 });
        io.childFds.push(io.binaryLogger.stdoutWriteFd, io.binaryLogger.stderrWriteFd);
      }
      if (cfg.terminal) {
        await io.openTerminal(parseStdio(cfg.stdin), stdout);
      } else {
        io.setupStdin(parseStdio(cfg.stdin));
        if (io.binaryLogger) io.handToLogger(io.binaryLogger);
        else {
          io.setupOutput('stdout', stdout);
          io.setupOutput('stderr', stderr);
        }
      }
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  /** For `--console-socket`; set only for a terminal process. */
  get consoleSocket(): string | undefined {
    return this.terminal?.socket?.path;
  }

  /** The runtime call has returned: the process holds its ends now, and its terminal is ours to take. */
  async runtimeStarted(): Promise<void> {
    this.releaseChildEnds();
    if (this.terminal) await this.attachTerminal(this.terminal);
  }

  /** Our copies of the process's pipe ends must go once it has them, or EOF never comes. */
  releaseChildEnds(): void {
    for (const fd of this.childFds) closeFd(fd);
    this.childFds = [];
  }

  /** ResizePty. A no-op without a terminal; a size that comes before the terminal is applied on arrival. */
  resize(cols: number, rows: number): void {
    const t = this.terminal;
    if (!t) return;
    t.size = { rows, cols };
    if (t.masterFd !== undefined && !t.master?.destroyed) setWinsize(t.masterFd, rows, cols);
  }

  /**
   * The process has been reaped. A terminal is closed once everything the process wrote has
   * been read (the master reports end of file when the last slave closes) or, if something
   * else still holds the terminal, once it has been idle for a moment while not held back by
   * a slow reader.
   */
  processExited(): void {
    const t = this.terminal;
    if (!t || t.exited) return;
    t.exited = true;
    if (t.master) this.closeTerminalWhenIdle(t, t.master);
  }

  private closeTerminalWhenIdle(t: Terminal, master: net.Socket): void {
    let seen = t.bytesOut;
    t.idleTimer = setInterval(() => {
      if (master.destroyed || master.readableEnded) {
        clearInterval(t.idleTimer);
        return;
      }
      if (t.bytesOut === seen && !master.isPaused()) {
        clearInterval(t.idleTimer);
        master.destroy();
      }
      seen = t.bytesOut;
    }, TERMINAL_IDLE_MS);
  }

  /** CloseIO: stop holding the stdin FIFO open, so the process sees EOF once the client closes its end. */
  closeStdin(): void {
    closeFd(this.stdinHoldFd);
    this.stdinHoldFd = undefined;
  }

  /**
   * Resolves once the process's output has been delivered: its pipes (or pty) are at end of
   * file or empty, everything read has been written on, and the reader has taken it (the FIFO
   * or logger pipe is empty; a file's writes are done). Gives up when the reader makes no
   * progress for `stallMs`, and logs how many bytes were then at risk. An exit must not be
   * reported before this: the client closes its FIFOs as soon as it hears of it.
   */
  async delivered(stallMs = DELIVERY_STALL_MS): Promise<DeliveryReport> {
    if (this.closed) return { delivered: true, atRisk: 0, waitedMs: 0, longestStallMs: 0 };
    // A reader that has not moved since we last gave up on it gets no second wait (at Delete).
    const before = this.progress();
    const given = this.abandoned;
    if (given && before.pending === given.pending && before.taken === given.taken) {
      return { delivered: false, atRisk: before.pending, waitedMs: 0, longestStallMs: 0 };
    }
    const report = await awaitDelivery(this.probes, stallMs);
    this.abandoned = report.delivered ? undefined : this.progress();
    const fields = { process: this.ctx.id, atRisk: report.atRisk, waitedMs: Math.round(report.waitedMs), longestStallMs: Math.round(report.longestStallMs) };
    if (report.delivered) this.ctx.logger.debug(fields, 'output delivered');
    else this.ctx.logger.warn({ ...fields, stallMs }, 'output not delivered: the reader made no progress');
    return report;
  }

  private progress(): { pending: number; taken: number } {
    return {
      pending: this.probes.reduce((n, p) => n + p.pending(), 0),
      taken: this.probes.reduce((n, p) => n + p.taken(), 0),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const lost = this.progress().pending;
    if (lost > 0) this.ctx.logger.error({ process: this.ctx.id, bytes: lost }, 'output lost: closed before the reader took it');
    this.releaseChildEnds();
    this.closeStdin();
    for (const fd of this.probeFds.splice(0)) closeFd(fd);
    for (const s of this.sockets) s.destroy();
    for (const c of this.splices) c.close();
    for (const { stream } of this.files.values()) stream.end();
    this.files.clear();
    if (this.terminal) {
      clearInterval(this.terminal.idleTimer);
      void this.terminal.socket?.close();
      this.terminal.master?.destroy();
    }
    this.binaryLogger?.close();
  }

  /** A real pipe for the process, owned by the task's io user when the options name one. */
  private pipe(): { readFd: number; writeFd: number } {
    const p = createPipe();
    const owner = this.ctx.ioOwner;
    if (owner) {
      try {
        fchownSync(p.readFd, owner.uid, owner.gid);
        fchownSync(p.writeFd, owner.uid, owner.gid);
      } catch (err) {
        closeFd(p.readFd);
        closeFd(p.writeFd);
        throw err;
      }
    }
    return p;
  }

  /**
   * The stdin FIFO spliced into the process's pipe in the kernel. It ends (and the process sees
   * end of file) once every writer of the FIFO has closed: the client, and our hold, which
   * CloseIO releases.
   */
  private setupStdin(target: StdioTarget): void {
    if (target.kind === 'none') return;
    const path = stdinFifoPath(target);
    const fromClient = openFifoReadFd(path);
    let toProcess: number | undefined;
    try {
      this.stdinHoldFd = holdFifoOpenForWrite(path);
      const { readFd, writeFd } = this.pipe();
      toProcess = writeFd;
      this.childFds.push(readFd);
      this.runtimeStdio.stdin = readFd;
    } catch (err) {
      closeFd(fromClient);
      throw err;
    }
    this.splices.push(
      spliceCopy(fromClient, toProcess, (err, bytes) => {
        // The process may exit without reading everything; that is not an error of ours.
        if (err) this.ctx.logger.debug({ err, bytes }, 'stdin pipe closed by the process');
      }),
    );
  }

  private openStdinFifo(target: StdioTarget): net.Socket {
    const path = stdinFifoPath(target);
    const fromClient = openFifoReader(path);
    this.sockets.push(fromClient);
    this.stdinHoldFd = holdFifoOpenForWrite(path);
    fromClient.on('error', (err) => this.ctx.logger.warn({ err }, 'stdin FIFO read failed'));
    return fromClient;
  }

  /** The process writes straight into the logger's pipes. */
  private handToLogger(logger: BinaryLogger): void {
    this.runtimeStdio.stdout = logger.stdoutWriteFd;
    this.runtimeStdio.stderr = logger.stderrWriteFd;
  }

  private setupOutput(name: 'stdout' | 'stderr', target: StdioTarget): void {
    if (target.kind === 'none') return;
    if (target.kind === 'binary') throw new StatusError(Code.InvalidArgument, 'a binary:// logger must be given as stdout');
    const { readFd, writeFd } = this.pipe();
    this.childFds.push(writeFd);
    this.runtimeStdio[name] = writeFd;
    if (target.kind === 'fifo') {
      this.spliceToFifo(name, readFd, target.path);
      return;
    }
    const fromProcess = new net.Socket({ fd: readFd, readable: true, writable: false });
    this.sockets.push(fromProcess);
    this.copy(name, fromProcess, readFd, this.destination(target));
  }

  /**
   * Pipe to FIFO, the common case (ctr, CRI): the kernel moves the bytes (splice), which costs
   * a fraction of the CPU of reading them into the shim and writing them out. Back-pressure and
   * the delivery probe are as for a stream copy; nothing is ever held in the shim.
   */
  private spliceToFifo(name: string, readFd: number, path: string): void {
    let dstFd: number;
    let probe: number;
    try {
      probe = openFifoProbe(path);
      this.probeFds.push(probe);
      dstFd = openFifoWriteFd(path);
    } catch (err) {
      // The copy would have owned it; close() closes the probe.
      closeFd(readFd);
      throw err;
    }
    const copy = spliceCopy(readFd, dstFd, (err, bytes) => {
      if (err) this.ctx.logger.error({ err, path, stream: name, bytes }, 'output lost: writing the FIFO failed');
      else this.ctx.logger.debug({ stream: name, bytes }, 'output copied');
    });
    this.splices.push(copy);
    this.probes.push({
      // Not tied to the copy: a FIFO still holds what was moved after our write end is closed.
      pending: () => copy.queued + queued(probe),
      taken: () => copy.bytes - queued(probe),
    });
  }

  private destination(target: CopyTarget): Destination {
    return target.kind === 'fifo' ? this.fifoDest(target.path) : this.fileDest(target.path);
  }

  private async openTerminal(stdin: StdioTarget, stdout: StdioTarget): Promise<void> {
    const t: Terminal = { bytesOut: 0, exited: false };
    this.terminal = t;
    if (stdin.kind !== 'none') t.stdin = this.openStdinFifo(stdin);
    if (this.binaryLogger) {
      // The terminal's output goes to the logger's fd 3; nothing ever writes its fd 4.
      const { stdoutWriteFd, stderrWriteFd } = this.binaryLogger;
      this.childFds = this.childFds.filter((fd) => fd !== stdoutWriteFd && fd !== stderrWriteFd);
      closeFd(stderrWriteFd);
      const toLogger = new net.Socket({ fd: this.binaryLogger.stdoutWriteFd, readable: false, writable: true });
      this.sockets.push(toLogger);
      const logger = this.binaryLogger;
      t.output = { stream: toLogger, release: () => new Promise<void>((resolve) => toLogger.end(resolve)), unread: () => logger.unread() };
    } else if (stdout.kind === 'fifo' || stdout.kind === 'file') {
      t.output = this.destination(stdout);
    }
    t.socket = await ConsoleSocket.listen();
  }

  private async attachTerminal(t: Terminal): Promise<void> {
    const fd = await t.socket!.receiveMaster(CONSOLE_TIMEOUT_MS);
    t.socket = undefined;
    t.masterFd = fd;
    if (t.size) setWinsize(fd, t.size.rows, t.size.cols);
    const master = openPtyStream(fd);
    t.master = master;
    // Writes fail with EIO once the process is gone; input it never read is not our problem.
    master.on('error', (err) => this.ctx.logger.debug({ err }, 'terminal closed'));
    if (this.closed) {
      master.destroy();
      return;
    }
    // No end: a pty has no half-close, and ending it would hang up the process.
    t.stdin?.pipe(master, { end: false });
    // Also what keeps the master read (and so the process unblocked) when nobody wants the output.
    master.on('data', (chunk: Buffer) => (t.bytesOut += chunk.length));
    if (t.output) this.copy('terminal', master, fd, t.output);
    if (t.exited) this.closeTerminalWhenIdle(t, master);
  }

  private fifoDest(path: string): Destination {
    const sock = openFifoWriter(path);
    this.sockets.push(sock);
    const probe = openFifoProbe(path);
    this.probeFds.push(probe);
    return { stream: sock, release: () => this.endLogged(sock, path), unread: () => queued(probe) };
  }

  /** end() also calls back on a write error; such an error loses output, so it is logged. */
  private endLogged(sock: net.Socket, path: string): Promise<void> {
    return new Promise<void>((resolve) =>
      sock.end((err?: Error | null) => {
        if (err) this.ctx.logger.error({ err, path, written: sock.bytesWritten }, 'output lost: writing the FIFO failed');
        resolve();
      }),
    );
  }

  /** stdout and stderr naming the same file share one append handle, closed after both finish. */
  private fileDest(path: string): Destination {
    let entry = this.files.get(path);
    if (!entry) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      entry = { stream: createWriteStream(path, { flags: 'a', mode: 0o644 }), users: 0 };
      this.files.set(path, entry);
    }
    entry.users++;
    const shared = entry;
    return {
      stream: shared.stream,
      release: () => {
        if (--shared.users > 0) return Promise.resolve();
        this.files.delete(path);
        return new Promise<void>((resolve) => shared.stream.end(resolve));
      },
    };
  }

  /**
   * Copies the process's output to the destination with back-pressure, and registers the
   * probe `delivered` watches. `srcFd` is the fd under `src`, probed (never read) while open.
   */
  private copy(name: string, src: net.Socket, srcFd: number, dst: Destination): void {
    let bytes = 0;
    const inShim = () => (dst.stream.destroyed ? 0 : dst.stream.writableLength);
    // Not tied to the stream: a FIFO still holds what we wrote after our handle is closed.
    const unread = () => dst.unread?.() ?? 0;
    this.probes.push({
      pending: () => (src.destroyed || src.readableEnded ? 0 : queued(srcFd) + src.readableLength) + inShim() + unread(),
      taken: () => bytes - inShim() - unread(),
    });
    let finished = false;
    src.on('data', (chunk: Buffer) => (bytes += chunk.length));
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      if (err) this.ctx.logger.warn({ err, stream: name, bytes }, 'output copy failed');
      src.unpipe(dst.stream);
      void dst.release().then(() => this.ctx.logger.debug({ stream: name, bytes }, 'output copied'));
    };
    // end:false because a shared file destination must outlive one of its sources.
    src.pipe(dst.stream, { end: false });
    src.once('end', () => finish());
    src.once('error', finish);
    dst.stream.once('error', finish);
    // Closed before its end of file: by close(), which logs what that lost, or a terminal
    // closed on purpose once idle after the process exit.
    src.once('close', () => finish());
  }
}

function stdinFifoPath(target: StdioTarget): string {
  if (target.kind !== 'fifo') throw new StatusError(Code.InvalidArgument, `stdin cannot be a ${target.kind} URI`);
  return target.path;
}

interface Terminal {
  socket?: ConsoleSocket;
  stdin?: net.Socket;
  output?: Destination;
  masterFd?: number;
  master?: net.Socket;
  size?: { rows: number; cols: number };
  /** Output bytes so far; the idle check after the process exit watches it. */
  bytesOut: number;
  exited: boolean;
  idleTimer?: NodeJS.Timeout;
}
