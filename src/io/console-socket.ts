import { promises as fsp } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recvFd } from '../sys/index.js';
import { StatusError, Code } from '../errors/index.js';

/**
 * The unix socket a runtime started with `--console-socket` connects to, to hand over the
 * pty master of a terminal process (spec §6.4): `pty<random>/pty.sock` under
 * $XDG_RUNTIME_DIR or the temp dir, as the reference shim does.
 *
 * Connections are accepted paused: if Node read from the socket, the kernel would drop the fd
 * that rides along with runc's message. The backlog holds runc's connection until the runtime
 * call returns and `receiveMaster` is called.
 */
export class ConsoleSocket {
  private readonly firstConnection: Promise<Socket>;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly dir: string,
    private readonly server: Server,
  ) {
    this.firstConnection = new Promise<Socket>((resolve, reject) => {
      server.once('connection', resolve);
      server.once('close', () => reject(new Error('console socket closed before the runtime connected')));
    });
    // Only one connection is ever wanted; the rejection above is observed by receiveMaster.
    this.firstConnection.catch(() => undefined);
  }

  static async listen(): Promise<ConsoleSocket> {
    const dir = await fsp.mkdtemp(join(process.env.XDG_RUNTIME_DIR || tmpdir(), 'pty'));
    const path = join(dir, 'pty.sock');
    const server = createServer({ pauseOnConnect: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    }
    return new ConsoleSocket(path, dir, server);
  }

  /**
   * The pty master fd (close-on-exec) of the first runtime that connected. The caller owns it.
   * Call it once the runtime command has returned: runc has connected and sent by then, or
   * exited, which closes its end and makes recvFd fail instead of waiting. The deadline covers
   * a runtime that returned without ever connecting. The socket is gone afterwards.
   */
  async receiveMaster(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StatusError(Code.DeadlineExceeded, `the runtime did not connect to ${this.path} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    let conn: Socket | undefined;
    try {
      conn = await Promise.race([this.firstConnection, deadline]);
      clearTimeout(timer);
      // The fd stays open until recvFd settles: it is watched by the event loop meanwhile.
      const fd = (conn as unknown as { _handle: { fd: number } })._handle.fd;
      return (await recvFd(fd)).fd;
    } finally {
      clearTimeout(timer);
      conn?.destroy();
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
