import net from 'node:net';
import { ttrpc } from '../api/gen/proto.js';
import { Code } from '../errors/index.js';
import { millisToNanos, startTimer } from './deadline.js';
import { type DecodedItem, FrameDecoder, MAX_MESSAGE, MessageType, encodeFrame, oversizeMessage } from './frame-codec.js';
import { type FrameSink, socketSink } from './frame-sink.js';
import { type MetadataInit, keyValuesFromInit } from './metadata.js';
import { StatusError, errorText } from '../errors/index.js';

export interface CallOptions {
  /** Sent as timeout_nano; the call rejects with DeadlineExceeded locally when it passes.
   * Infinity (or leaving it out) means no deadline. */
  timeoutMs?: number;
  metadata?: MetadataInit;
  /** Gives up on the call (Canceled); ttrpc has no cancel frame, so the server is not told. */
  signal?: AbortSignal;
}

interface PendingCall {
  resolve(payload: Uint8Array): void;
  reject(err: StatusError): void;
}

const MAX_STREAM_ID = 0xffffffff;

export class TtrpcClient {
  readonly #socket: net.Socket;
  readonly #sink: FrameSink;
  readonly #decoder = new FrameDecoder();
  readonly #calls = new Map<number, PendingCall>();
  readonly #closeCallbacks: Array<() => void> = [];
  #nextStreamId = 1;
  #closed = false;
  #socketError: Error | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#sink = socketSink(socket);
    socket.on('data', (chunk: Buffer) => {
      for (const item of this.#decoder.push(chunk)) this.#receive(item);
    });
    socket.on('end', () => socket.destroy());
    socket.on('error', (err) => (this.#socketError ??= err));
    socket.on('close', () => {
      const detail = this.#socketError ? `: ${this.#socketError.message}` : '';
      this.#teardown(new StatusError(Code.Unavailable, `ttrpc: connection closed${detail}`, { cause: this.#socketError }));
    });
  }

  /** `path` may carry the `unix://` prefix containerd uses in addresses. */
  static connect(path: string, opts: { connectTimeoutMs?: number } = {}): Promise<TtrpcClient> {
    const socketPath = path.startsWith('unix://') ? path.slice('unix://'.length) : path;
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: socketPath });
      const cancelTimer =
        opts.connectTimeoutMs === undefined
          ? undefined
          : startTimer(opts.connectTimeoutMs, () => {
              socket.destroy();
              reject(new StatusError(Code.DeadlineExceeded, `ttrpc: dial unix ${socketPath}: timed out after ${opts.connectTimeoutMs} ms`));
            });
      const onError = (err: Error) => {
        cancelTimer?.();
        reject(new StatusError(Code.Unavailable, `ttrpc: dial unix ${socketPath}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        cancelTimer?.();
        socket.off('error', onError);
        resolve(new TtrpcClient(socket));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(cb: () => void): void {
    if (this.#closed) queueMicrotask(cb);
    else this.#closeCallbacks.push(cb);
  }

  call(service: string, method: string, payload: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new StatusError(Code.Unavailable, 'ttrpc: closed'));
    if (opts.signal?.aborted) return Promise.reject(StatusError.from(opts.signal.reason));
    const timeoutMs = opts.timeoutMs === Infinity ? undefined : opts.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) {
      return Promise.reject(new StatusError(Code.DeadlineExceeded, 'context deadline exceeded'));
    }
    const request = ttrpc.Request.encode({
      service,
      method,
      payload: payload.length > 0 ? payload : undefined,
      timeoutNano: timeoutMs === undefined ? undefined : millisToNanos(timeoutMs),
      metadata: keyValuesFromInit(opts.metadata),
    }).finish();
    if (request.length > MAX_MESSAGE) {
      return Promise.reject(new StatusError(Code.ResourceExhausted, oversizeMessage(request.length)));
    }
    if (this.#nextStreamId > MAX_STREAM_ID) {
      return Promise.reject(new StatusError(Code.ResourceExhausted, 'ttrpc: stream ids exhausted on this connection'));
    }
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    return new Promise<Uint8Array>((resolve, reject) => {
      const cleanups: Array<() => void> = [];
      const settle = () => {
        this.#calls.delete(id);
        for (const cleanup of cleanups) cleanup();
      };
      this.#calls.set(id, {
        resolve: (value) => (settle(), resolve(value)),
        reject: (err) => (settle(), reject(err)),
      });
      // Late replies find no pending call and are dropped, as the Go client drops them.
      if (timeoutMs !== undefined) {
        cleanups.push(startTimer(timeoutMs, () => this.#calls.get(id)?.reject(new StatusError(Code.DeadlineExceeded, 'context deadline exceeded'))));
      }
      const signal = opts.signal;
      if (signal) {
        const onAbort = () => this.#calls.get(id)?.reject(StatusError.from(signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
      this.#sink.write(encodeFrame(id, MessageType.Request, 0, request));
    });
  }

  close(): void {
    this.#socket.destroy();
    this.#teardown(new StatusError(Code.Unavailable, 'ttrpc: closed'));
  }

  #receive(item: DecodedItem): void {
    const call = this.#calls.get(item.streamId);
    if (!call) return;
    if (item.kind === 'oversize') {
      call.reject(new StatusError(Code.ResourceExhausted, oversizeMessage(item.length)));
      return;
    }
    // Data frames belong to streaming calls, which this client does not make.
    if (item.type !== MessageType.Response) return;
    let response: ttrpc.Response;
    try {
      response = ttrpc.Response.decode(item.data);
    } catch (err) {
      call.reject(new StatusError(Code.Internal, `ttrpc: error unmarshalling response: ${errorText(err)}`));
      return;
    }
    const status = response.status;
    if (status && status.code) call.reject(new StatusError(status.code, status.message ?? ''));
    else call.resolve(response.payload ?? new Uint8Array(0));
  }

  #teardown(reason: StatusError): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of [...this.#calls.values()]) call.reject(reason);
    for (const cb of this.#closeCallbacks.splice(0)) cb();
  }
}
