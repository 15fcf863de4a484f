import { spawn } from 'node:child_process';
import { chmodSync, closeSync, constants, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { ShimFlags } from './flags.js';
import { groupKey, socketDir, socketPath } from './socket-address.js';

/** Environment variable through which `start` tells the daemon which socket path it serves. */
export const SOCKET_PATH_ENV = 'TSSHIM_SOCKET_PATH';

function listen(path: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ path, backlog: 128 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function canConnect(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ path });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function readAnnotations(bundle: string): Record<string, string> | undefined {
  try {
    return (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> }).annotations;
  } catch {
    // No readable spec (a hand-run start): the task id alone is the group.
    return undefined;
  }
}

/** containerd 1.6/1.7 read <bundle>/address to reconnect after a restart; it must hold exactly the address. */
function writeAddressFile(bundle: string, address: string): void {
  const path = join(bundle, 'address');
  writeFileSync(`${path}.tmp`, address, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

function openLogFifo(bundle: string): number | 'ignore' {
  try {
    // O_RDWR never blocks on a FIFO; the daemon's crash output (fd 1 and 2) then reaches containerd's log.
    return openSync(join(bundle, 'log'), constants.O_RDWR);
  } catch {
    return 'ignore';
  }
}

/** The daemon gets containerd's OOM score + 1, so the kernel prefers it over containerd (reference shim). */
function adjustOomScore(pid: number): void {
  try {
    const parent = readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8').trim();
    const score = Math.min(Number.parseInt(parent, 10) + 1, 1000);
    writeFileSync(`/proc/${pid}/oom_score_adj`, String(score));
  } catch {
    // Best effort, as in the reference shim: an unprivileged or unusual host keeps the default.
  }
}

/**
 * The `start` action: bind the task's (or group's) socket, start the serving daemon with the
 * listening socket as fd 3, and print only its address. containerd reads stdout and stderr as one
 * buffer until every holder closes them, so nothing else is ever printed and the daemon inherits
 * neither.
 */
export async function start(flags: ShimFlags): Promise<void> {
  const bundle = process.cwd();
  const dir = socketDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = socketPath(dir, flags.address, flags.namespace, groupKey(flags.id, readAnnotations(bundle)));
  const address = `unix://${path}`;

  let server: net.Server;
  try {
    server = await listen(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    if (await canConnect(path, 100)) {
      // A shim for this group is already serving: hand containerd its address.
      writeAddressFile(bundle, address);
      process.stdout.write(address, () => process.exit(0));
      return;
    }
    unlinkSync(path);
    server = await listen(path);
  }
  chmodSync(path, 0o600);

  const listenFd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const logFd = openLogFifo(bundle);
  const args = [process.argv[1], '-namespace', flags.namespace, '-id', flags.id, '-address', flags.address];
  if (flags.publishBinary) args.push('-publish-binary', flags.publishBinary);
  if (flags.debug) args.push('-debug');
  let child;
  try {
    child = spawn(process.execPath, args, {
      cwd: bundle,
      detached: true,
      stdio: ['ignore', logFd, logFd, listenFd],
      env: { ...process.env, [SOCKET_PATH_ENV]: path },
    });
  } catch (err) {
    unlinkSync(path);
    throw err;
  }
  if (typeof logFd === 'number') closeSync(logFd);
  child.unref();
  if (child.pid) adjustOomScore(child.pid);
  writeAddressFile(bundle, address);
  // Exiting without closing the server: closing would unlink the socket the daemon now serves.
  process.stdout.write(address, () => process.exit(0));
}
