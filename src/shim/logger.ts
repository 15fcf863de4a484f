import { constants, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

/**
 * Logs go to the `log` FIFO containerd creates in the bundle; containerd copies whatever arrives
 * there into its own log. Written through a non-blocking socket so a containerd that stops reading
 * can never stall the event loop. Without the FIFO (a hand-run daemon) logs go to stderr.
 */
export function createLogger(bundle: string, opts: { debug: boolean; namespace: string; id: string }): Logger {
  let dest: NodeJS.WritableStream;
  try {
    const fd = openSync(join(bundle, 'log'), constants.O_RDWR | constants.O_NONBLOCK);
    const sock = new net.Socket({ fd, readable: false, writable: true });
    sock.on('error', () => undefined);
    dest = sock;
  } catch {
    dest = process.stderr;
  }
  return pino(
    {
      level: opts.debug ? 'debug' : 'info',
      base: { runtime: 'io.containerd.tsshim.v2', namespace: opts.namespace, shim_pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  );
}
