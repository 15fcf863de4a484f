import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import net from 'node:net';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createPipe } from '../sys/index.js';
import { TtrpcError, Code } from '../ttrpc/index.js';
import { closeFd, holdFifoOpenForWrite, openFifoReader, openFifoWriter } from './fifo.js';
import { parseStdio, type StdioTarget } from './stdio-uri.js';

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

/**
 * The stdio plumbing of one process (init or exec) without a terminal: a real pipe per wanted
 * stream (never a socketpair: `echo > /dev/stdout` fails with ENXIO on a socket), copied to or
 * from containerd's FIFOs or a log file with back-pressure end to end.
 */
export class ProcessIO {
  readonly runtimeStdio: RuntimeStdio = { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' };
  /** Child ends we keep only until the runtime has inherited them. */
  private childFds: number[] = [];
  private stdinHoldFd: number | undefined;
  private readonly sockets: net.Socket[] = [];
  private readonly outputsDone: Promise<void>[] = [];
  private readonly files = new Map<string, { stream: WriteStream; users: number }>();
  private closed = false;

  private constructor(private readonly logger: Logger) {}

  static open(cfg: StdioConfig, logger: Logger): ProcessIO {
    if (cfg.terminal) {
      throw new TtrpcError(Code.Unimplemented, 'terminal stdio is not supported yet');
    }
    const io = new ProcessIO(logger);
    try {
      io.setupStdin(parseStdio(cfg.stdin));
      io.setupOutput('stdout', parseStdio(cfg.stdout));
      io.setupOutput('stderr', parseStdio(cfg.stderr));
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  /** Called once the runtime has started the process: our copies of its ends must go, or EOF never comes. */
  releaseChildEnds(): void {
    for (const fd of this.childFds) closeFd(fd);
    this.childFds = [];
  }

  /** CloseIO: stop holding the stdin FIFO open, so the process sees EOF once the client closes its end. */
  closeStdin(): void {
    closeFd(this.stdinHoldFd);
    this.stdinHoldFd = undefined;
  }

  /** Resolves true when every output byte has been handed on, false if timeoutMs passed first. */
  async drained(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = Promise.all(this.outputsDone).then(() => true);
    try {
      return await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseChildEnds();
    this.closeStdin();
    for (const s of this.sockets) s.destroy();
    for (const { stream } of this.files.values()) stream.end();
    this.files.clear();
  }

  private setupStdin(target: StdioTarget): void {
    if (target.kind === 'none') return;
    if (target.kind !== 'fifo') {
      throw new TtrpcError(Code.InvalidArgument, `stdin cannot be a ${target.kind} URI`);
    }
    const { readFd, writeFd } = createPipe();
    this.childFds.push(readFd);
    this.runtimeStdio.stdin = readFd;
    const toProcess = new net.Socket({ fd: writeFd, readable: false, writable: true });
    const fromClient = openFifoReader(target.path);
    this.stdinHoldFd = holdFifoOpenForWrite(target.path);
    this.sockets.push(toProcess, fromClient);
    // The process may exit without reading everything; that is not an error of ours.
    toProcess.on('error', (err) => this.logger.debug({ err }, 'stdin pipe closed by the process'));
    fromClient.on('error', (err) => this.logger.warn({ err }, 'stdin FIFO read failed'));
    fromClient.pipe(toProcess);
  }

  private setupOutput(name: 'stdout' | 'stderr', target: StdioTarget): void {
    if (target.kind === 'none') return;
    if (target.kind === 'binary') {
      throw new TtrpcError(Code.Unimplemented, 'binary:// logging is not supported yet');
    }
    const { readFd, writeFd } = createPipe();
    this.childFds.push(writeFd);
    this.runtimeStdio[name] = writeFd;
    const fromProcess = new net.Socket({ fd: readFd, readable: true, writable: false });
    this.sockets.push(fromProcess);
    const dest = target.kind === 'fifo' ? this.fifoDest(target.path) : this.fileDest(target.path);
    this.outputsDone.push(this.copy(name, fromProcess, dest.stream, dest.release));
  }

  private fifoDest(path: string): { stream: Writable; release: () => Promise<void> } {
    const sock = openFifoWriter(path);
    this.sockets.push(sock);
    return { stream: sock, release: () => new Promise<void>((resolve) => sock.end(resolve)) };
  }

  /** stdout and stderr naming the same file share one append handle, closed after both finish. */
  private fileDest(path: string): { stream: Writable; release: () => Promise<void> } {
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

  /** Resolves once everything the process wrote has been written to the destination. */
  private copy(name: string, src: net.Socket, dst: Writable, release: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = (err?: Error) => {
        if (finished) return;
        finished = true;
        if (err) this.logger.warn({ err, stream: name }, 'output copy failed');
        src.unpipe(dst);
        void release().then(resolve, resolve);
      };
      // end:false because a shared file destination must outlive one of its sources.
      src.pipe(dst, { end: false });
      src.once('end', () => finish());
      src.once('error', finish);
      dst.once('error', finish);
      src.once('close', () => finish());
    });
  }
}
