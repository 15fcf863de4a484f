import { constants, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

/**
 * Set by the packaged binary's front end for a daemon that serves a whole node: it outlives the
 * bundle it started in, so it logs to this file (its stderr already) instead of that bundle's FIFO.
 */
export const DAEMON_LOG_ENV = 'TSSHIM_DAEMON_LOG';

/**
 * Logs go to the `log` FIFO containerd creates in the bundle; containerd copies whatever arrives
 * there into its own log. Written through a non-blocking socket so a containerd that stops reading
 * can never stall the event loop. Without the FIFO (a hand-run daemon), or with a daemon
 * log, logs go to stderr.
 */
function fifoDestination(bundle: string): NodeJS.WritableStream | undefined {
  try {
    const fd = openSync(join(bundle, 'log'), constants.O_RDWR | constants.O_NONBLOCK);
    const sock = new net.Socket({ fd, readable: false, writable: true });
    sock.on('error', () => undefined);
    return sock;
  } catch {
    return undefined;
  }
}

export function createLogger(bundle: string, opts: { debug: boolean; namespace: string; id: string }): Logger {
  const daemonLog = process.env[DAEMON_LOG_ENV];
  delete process.env[DAEMON_LOG_ENV];
  const dest = (daemonLog ? undefined : fifoDestination(bundle)) ?? process.stderr;
  return pino(
    {
      level: opts.debug ? 'debug' : 'info',
      base: { runtime: 'io.containerd.tsshim.v2', namespace: opts.namespace, shim_pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  );
}
