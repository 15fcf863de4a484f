import { chmodSync, rmSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { probeSocket } from './socket-address.js';

/** The socket is ours: serve on `listener`, taking over the connections it accepted meanwhile. */
export interface BoundSocket {
  kind: 'bound';
  path: string;
  listener: net.Server;
  /** Stops holding connections for the server and returns those accepted so far. */
  handOver(): net.Socket[];
  /** Gives the socket up unserved (a start that fails after binding): no file is left behind. */
  release(): void;
}

export type SocketBinding = BoundSocket | { kind: 'served-elsewhere'; path: string };

/**
 * Decides, once, whether this process serves the socket or a daemon already does (a concurrent
 * `start` of the same group). Binding comes first: only when the path is taken is the daemon
 * behind it probed, and a socket file nothing answers on (a crashed shim's) is taken over when
 * `replaceStale` says so. Connections accepted before the server is wired are held, unread,
 * until handOver(): a peer that learns the address from a concurrent `start` loses nothing.
 */
export async function bindSocket(path: string, opts: { replaceStale: boolean }): Promise<SocketBinding> {
  // Two rounds: a concurrent start may take over the same stale file between our probe and bind.
  for (let round = 0; ; round++) {
    try {
      return await listen(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !opts.replaceStale || round > 0) throw err;
    }
    if ((await probeSocket(path, 100)) === 'accepting') return { kind: 'served-elsewhere', path };
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function listen(path: string): Promise<BoundSocket> {
  const listener = net.createServer();
  const held: net.Socket[] = [];
  const hold = (socket: net.Socket) => {
    // Errors of a held connection surface once the server owns it; until then, nobody to tell.
    socket.on('error', () => undefined);
    held.push(socket);
  };
  listener.on('connection', hold);
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ path }, () => {
      listener.off('error', reject);
      chmodSync(path, 0o600);
      resolve({
        kind: 'bound',
        path,
        listener,
        handOver: () => {
          listener.off('connection', hold);
          return held.splice(0).filter((s) => !s.destroyed);
        },
        release: () => {
          for (const s of held.splice(0)) s.destroy();
          listener.close();
          rmSync(path, { force: true });
        },
      });
    });
  });
}
