import net from 'node:net';
import { join } from 'node:path';

/**
 * Shim sockets live in their own short directory: a unix socket path must stay under ~106 bytes,
 * and a directory of our own keeps a tsshim group from ever answering for a runc shim's group of
 * the same name. Overridable for tests and unusual hosts.
 */
export function socketDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSSHIM_SOCKET_DIR || '/run/tsshim';
}

/** Set by the packaged binary's front end for `start`: the group socket path it derived. */
export const GROUP_SOCKET_ENV = 'TSSHIM_GROUP_SOCKET';

/** Same derivation as the reference shim: sha256 of "<containerd address>/<namespace>/<group>". */
export function socketPath(dir: string, containerdAddress: string, namespace: string, groupKey: string): string {
  // Loaded here, not at the top: node:crypto costs a start-up tens of milliseconds, and the
  // packaged binary's front end usually has computed this path already (GROUP_SOCKET_ENV).
  const { createHash } = process.getBuiltinModule('node:crypto');
  const digest = createHash('sha256').update(join(containerdAddress, namespace, groupKey)).digest('hex');
  return join(dir, digest);
}

const GROUP_ANNOTATIONS = ['io.containerd.tsshim.v2.group', 'io.containerd.runc.v2.group', 'io.kubernetes.cri.sandbox-id'];

/** The group of every task in node grouping: no task id can contain ':' (containerd's rules). */
export const NODE_GROUP = ':node';

/**
 * Tasks with the same group key share one shim process: with "pod" grouping those with the
 * same group annotation (or pod); with "node" grouping all of them. The packaged binary's front
 * end (native/front) derives the same key.
 */
export function groupKey(id: string, annotations: Record<string, string> | undefined, grouping: 'task' | 'pod' | 'node' = 'pod'): string {
  if (grouping === 'task') return id;
  if (grouping === 'node') return NODE_GROUP;
  for (const key of GROUP_ANNOTATIONS) {
    const value = annotations?.[key];
    if (value) return value;
  }
  return id;
}

/**
 * What a connection attempt says about a unix socket: a daemon accepts on it, nothing listens
 * (a dead daemon's file), or no answer in time (busy or gone: decide nothing from that).
 */
export type SocketProbe = 'accepting' | 'refused' | 'no-answer';

export function probeSocket(path: string, timeoutMs: number): Promise<SocketProbe> {
  return new Promise((resolve) => {
    const sock = net.connect({ path });
    const done = (result: SocketProbe) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('no-answer'), timeoutMs);
    sock.once('connect', () => done('accepting'));
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'no-answer'));
  });
}
