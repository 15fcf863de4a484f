import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Logger } from 'pino';
import { bytesQueued, createPipe } from '../sys/index.js';
import { StatusError, Code } from '../errors/index.js';
import { closeFd } from './fifo.js';

/** Reference shim: SIGTERM, then SIGKILL if the logger is still there after this long. */
const STOP_GRACE_MS = 12_000;
/** The reference shim waits forever; a Create that never answers wedges containerd, so we do not. */
const READY_TIMEOUT_MS = 30_000;

export interface LoggerIdentity {
  /** CONTAINER_ID: the container id for an init, the exec id for an exec (as the reference shim). */
  id: string;
  namespace: string;
  /** The logger's working directory. */
  bundle: string;
}

/**
 * A `binary://` logging program (spec §6.3): it reads the container's stdout on fd 3 and its
 * stderr on fd 4, and writes a byte to (or closes) fd 5 once it is ready to take them.
 *
 * The container gets the write ends of those pipes directly, so output never passes through
 * the shim (except a terminal's, which the shim copies to `stdoutWriteFd`). The shim keeps the
 * read ends open, never reading them, so that a logger that dies leaves the container blocked
 * on a full pipe rather than killed by SIGPIPE.
 */
export class BinaryLogger {
  /** The write ends, for the container (or the terminal copy); the owner closes them. */
  readonly stdoutWriteFd: number;
  readonly stderrWriteFd: number;
  /** Settles when the logger has exited. */
  readonly exited: Promise<void>;
  private readonly heldReadFds: number[];
  private hasExited = false;
  private stopping = false;

  private constructor(
    private readonly child: ChildProcess,
    fds: { stdout: { readFd: number; writeFd: number }; stderr: { readFd: number; writeFd: number } },
    private readonly logger: Logger,
  ) {
    this.stdoutWriteFd = fds.stdout.writeFd;
    this.stderrWriteFd = fds.stderr.writeFd;
    this.heldReadFds = [fds.stdout.readFd, fds.stderr.readFd];
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        if (code !== 0 && !this.stopping) logger.warn({ code, signal, pid: child.pid }, 'logging program exited with a failure');
        resolve();
      });
      child.once('error', () => {
        this.hasExited = true;
        resolve();
      });
    });
  }

  /** Starts the program and resolves once it reported ready. */
  static async start(path: string, args: string[], who: LoggerIdentity, logger: Logger): Promise<BinaryLogger> {
    const stdout = createPipe();
    const stderr = createPipe();
    const ready = createPipe();
    let child: ChildProcess;
    try {
      child = spawn(path, args, {
        cwd: who.bundle,
        env: { CONTAINER_ID: who.id, CONTAINER_NAMESPACE: who.namespace },
        stdio: ['ignore', 'ignore', 'ignore', stdout.readFd, stderr.readFd, ready.writeFd],
      });
    } catch (err) {
      for (const fd of [stdout.readFd, stdout.writeFd, stderr.readFd, stderr.writeFd, ready.readFd]) closeFd(fd);
      throw err;
    } finally {
      // Ours must go, or the end of file that a logger exiting early gives never comes.
      closeFd(ready.writeFd);
    }
    const self = new BinaryLogger(child, { stdout, stderr }, logger);
    try {
      await self.waitReady(ready.readFd, path);
    } catch (err) {
      self.close();
      closeFd(self.stdoutWriteFd);
      closeFd(self.stderrWriteFd);
      throw err;
    }
    logger.debug({ pid: child.pid, path }, 'logging program ready');
    return self;
  }

  private waitReady(readyFd: number, path: string): Promise<void> {
    const sock = new net.Socket({ fd: readyFd, readable: true, writable: false });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => done(new StatusError(Code.DeadlineExceeded, `logging program ${path} not ready within ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      const done = (err?: Error) => {
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve();
      };
      // A program that could not be spawned closes nothing of its own; its 'error' tells why.
      const ready = () => {
        if (this.child.pid !== undefined) done();
      };
      sock.once('data', ready);
      sock.once('end', ready);
      sock.once('error', (err) => done(err));
      this.child.once('error', (err) => done(new StatusError(Code.Unknown, `failed to start logging program ${path}: ${err.message}`, { cause: err })));
    });
  }

  /** What the process wrote that the logger has not read yet; nothing once the logger is gone. */
  unread(): number {
    if (this.hasExited) return 0;
    let n = 0;
    for (const fd of this.heldReadFds) n += bytesQueued(fd);
    return n;
  }

  /** SIGTERM, then SIGKILL after the grace; the held pipe ends are released at once. */
  close(): void {
    for (const fd of this.heldReadFds.splice(0)) closeFd(fd);
    if (this.hasExited) return;
    this.stopping = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.hasExited) return;
      this.logger.warn({ pid: this.child.pid }, 'logging program ignored SIGTERM; killing it');
      this.child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    void this.exited.then(() => clearTimeout(timer));
  }
}
