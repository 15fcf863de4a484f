import net from 'node:net';
import { isPeerGone, socketSink } from './frame-sink.js';
import { type ConnectionLimits, DEFAULT_LIMITS, ServerConnection } from './server-connection.js';
import { type ServiceDef, ServiceRegistry } from './service.js';

export interface ServerOptions {
  /** Called for each accepted connection; false (or a throw) closes it before any byte is read. */
  authorize?: (socket: net.Socket) => boolean;
  /** Problems that have no caller to report to (a peer not reading, a listener error…). */
  onError?: (err: unknown) => void;
  /** See ConnectionLimits; defaults 4096 calls and 64 MiB. */
  maxInFlightPerConnection?: number;
  maxBufferedBytesPerConnection?: number;
}

export class TtrpcServer {
  readonly #registry = new ServiceRegistry();
  readonly #connections = new Map<net.Socket, ServerConnection>();
  readonly #authorize: ((socket: net.Socket) => boolean) | undefined;
  readonly #onError: (err: unknown) => void;
  readonly #limits: ConnectionLimits;
  #listener: net.Server | undefined;
  #shuttingDown = false;

  constructor(opts: ServerOptions = {}) {
    this.#authorize = opts.authorize;
    this.#onError = opts.onError ?? (() => {});
    this.#limits = {
      maxInFlight: opts.maxInFlightPerConnection ?? DEFAULT_LIMITS.maxInFlight,
      maxBufferedBytes: opts.maxBufferedBytesPerConnection ?? DEFAULT_LIMITS.maxBufferedBytes,
    };
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The same ServiceDef may be registered under several names (Task v2 and v3). */
  register(serviceName: string, service: ServiceDef): void {
    this.#registry.register(serviceName, service);
  }

  listen(target: { fd: number } | { path: string }): Promise<void> {
    if (this.#listener) return Promise.reject(new Error('ttrpc: server is already listening'));
    if (this.#shuttingDown) return Promise.reject(new Error('ttrpc: server closed'));
    const listener = net.createServer((socket) => this.#accept(socket));
    this.#listener = listener;
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        this.#listener = undefined;
        reject(err);
      };
      listener.once('error', fail);
      listener.listen('fd' in target ? { fd: target.fd } : { path: target.path }, () => {
        listener.off('error', fail);
        listener.on('error', (err) => this.#onError(err));
        resolve();
      });
    });
  }

  /**
   * Serves on a listener that is already bound (and listening), together with the connections it
   * accepted before the server was ready; their unread bytes are read now.
   */
  adopt(listener: net.Server, accepted: readonly net.Socket[] = []): void {
    if (this.#listener) throw new Error('ttrpc: server is already listening');
    if (this.#shuttingDown) throw new Error('ttrpc: server closed');
    this.#listener = listener;
    listener.on('connection', (socket) => this.#accept(socket));
    listener.on('error', (err) => this.#onError(err));
    for (const socket of accepted) this.#accept(socket);
  }

  /**
   * Stops accepting, lets running calls answer (new requests get Unavailable), closes each
   * connection once it is idle, and destroys whatever is left after graceMs.
   */
  async shutdown(opts: { graceMs?: number } = {}): Promise<void> {
    this.#shuttingDown = true;
    const listener = this.#listener;
    const listenerClosed = listener?.listening ? new Promise<void>((resolve) => listener.close(() => resolve())) : undefined;
    const connectionsClosed = Promise.all(
      [...this.#connections.keys()].map((s) => new Promise((resolve) => (s.closed ? resolve(undefined) : s.once('close', resolve)))),
    );
    for (const connection of this.#connections.values()) connection.drain();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.graceMs ?? 10_000)));
    await Promise.race([connectionsClosed, graceOver]);
    clearTimeout(timer);
    for (const connection of this.#connections.values()) connection.destroy();
    await Promise.all([connectionsClosed, listenerClosed]);
  }

  #accept(socket: net.Socket): void {
    socket.on('error', (err) => {
      if (!isPeerGone(err)) this.#onError(err);
    });
    if (this.#shuttingDown || !this.#authorized(socket)) {
      socket.destroy();
      return;
    }
    const connection = new ServerConnection(this.#registry, socketSink(socket), this.#limits, this.#onError);
    this.#connections.set(socket, connection);
    socket.on('data', (chunk: Buffer) => connection.receive(chunk));
    // EOF from the client ends the connection quietly; replies still running have nobody to go to.
    socket.on('end', () => socket.destroy());
    socket.on('close', () => {
      connection.abandon();
      this.#connections.delete(socket);
    });
  }

  #authorized(socket: net.Socket): boolean {
    if (!this.#authorize) return true;
    try {
      return this.#authorize(socket) === true;
    } catch (err) {
      this.#onError(err);
      return false;
    }
  }
}
