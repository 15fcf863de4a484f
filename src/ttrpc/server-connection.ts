import { ttrpc } from '../api/gen/proto.js';
import { Code } from '../errors/index.js';
import { int64ToBigInt, startTimer } from './deadline.js';
import { type DecodedItem, type Frame, Flag, FrameDecoder, MessageType, oversizeMessage } from './frame-codec.js';
import type { FrameSink } from './frame-sink.js';
import { metadataFromKeyValues } from './metadata.js';
import type { CallContext, ServiceRegistry } from './service.js';
import { StatusError, errorText } from '../errors/index.js';
import { type CallOutcome, responseFrame, statusFrame } from './response-frame.js';
import { runUnary } from './unary-call.js';

export interface ConnectionLimits {
  /** Handlers running at once on one connection; further requests get ResourceExhausted. */
  maxInFlight: number;
  /** Reply bytes queued for a peer that is not reading; beyond this the connection is closed. */
  maxBufferedBytes: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = { maxInFlight: 4096, maxBufferedBytes: 64 << 20 };

interface ActiveCall {
  controller: AbortController;
  cancelDeadline?: () => void;
}

/**
 * The server side of one ttrpc connection, independent of the socket: bytes in through
 * receive(), frames out through the sink.
 *
 * It never stops reading (Go ttrpc#72: a server blocked on a write stops reading, the client
 * blocked on its own write stops reading replies, and both hang). Memory stays bounded instead by
 * capping running handlers (maxInFlight) and closing a connection whose peer has left more than
 * maxBufferedBytes of replies unread.
 */
export class ServerConnection {
  readonly #registry: ServiceRegistry;
  readonly #sink: FrameSink;
  readonly #limits: ConnectionLimits;
  readonly #onError: (err: unknown) => void;
  readonly #decoder = new FrameDecoder();
  readonly #calls = new Map<number, ActiveCall>();
  #lastStreamId = 0;
  #draining = false;
  #closed = false;

  constructor(registry: ServiceRegistry, sink: FrameSink, limits: ConnectionLimits, onError: (err: unknown) => void) {
    this.#registry = registry;
    this.#sink = sink;
    this.#limits = limits;
    this.#onError = onError;
  }

  get inFlight(): number {
    return this.#calls.size;
  }

  receive(chunk: Uint8Array): void {
    for (const item of this.#decoder.push(chunk)) {
      if (this.#closed) return;
      this.#handle(item);
    }
  }

  /** Refuse new requests and close once the running ones have answered. */
  drain(): void {
    this.#draining = true;
    if (this.#calls.size === 0) this.#close(true);
  }

  /** Close now; running handlers are aborted and their results dropped. */
  destroy(): void {
    this.#close(false);
  }

  /** The socket is gone: tell every handler, drop their results. */
  abandon(): void {
    this.#closed = true;
    const reason = new StatusError(Code.Canceled, 'ttrpc: connection closed');
    for (const call of this.#calls.values()) this.#stop(call, reason);
    this.#calls.clear();
  }

  #handle(item: DecodedItem): void {
    if (item.kind === 'oversize') {
      this.#reject(item.streamId, Code.ResourceExhausted, oversizeMessage(item.length));
      return;
    }
    if (item.streamId % 2 !== 1) {
      this.#reject(item.streamId, Code.InvalidArgument, 'StreamID must be odd for client initiated streams');
      return;
    }
    if (item.type === MessageType.Request) this.#request(item);
    else if (item.type === MessageType.Data) this.#data(item);
    // Other types are ignored, as Go ttrpc does, to stay compatible with future message types.
  }

  #request(frame: Frame): void {
    const id = frame.streamId;
    if (id <= this.#lastStreamId) {
      this.#reject(id, Code.InvalidArgument, 'StreamID cannot be re-used and must increment');
      return;
    }
    this.#lastStreamId = id;
    let req: ttrpc.Request;
    try {
      req = ttrpc.Request.decode(frame.data);
    } catch (err) {
      this.#reject(id, Code.InvalidArgument, `unmarshal request error: ${errorText(err)}`);
      return;
    }
    if (this.#draining) {
      this.#reject(id, Code.Unavailable, 'ttrpc: server closed');
      return;
    }
    if (this.#calls.size >= this.#limits.maxInFlight) {
      this.#reject(id, Code.ResourceExhausted, `ttrpc: too many requests in flight (limit ${this.#limits.maxInFlight})`);
      return;
    }
    let def;
    try {
      def = this.#registry.lookup(req.service, req.method);
    } catch (err) {
      const { code, message } = StatusError.from(err).toStatus();
      this.#reject(id, code, message);
      return;
    }
    // Request flags (streaming open/closed) do not change a unary call: its only message is the
    // Request payload, as in Go ttrpc.
    const call: ActiveCall = { controller: new AbortController() };
    const ctx: CallContext = {
      service: req.service,
      method: req.method,
      metadata: metadataFromKeyValues(req.metadata),
      signal: call.controller.signal,
    };
    const timeoutNano = int64ToBigInt(req.timeoutNano);
    if (timeoutNano !== 0n) {
      const ms = Number(timeoutNano) / 1e6;
      ctx.deadline = Date.now() + ms;
      const expire = () => call.controller.abort(new StatusError(Code.DeadlineExceeded, 'context deadline exceeded'));
      if (ms <= 0) expire();
      else call.cancelDeadline = startTimer(ms, expire);
    }
    this.#calls.set(id, call);
    runUnary(def, req.payload, ctx).then(
      (outcome) => this.#complete(id, call, outcome),
      (err) => this.#onError(err),
    );
  }

  #data(frame: Frame): void {
    const id = frame.streamId;
    const call = this.#calls.get(id);
    if (!call) {
      this.#reject(id, Code.InvalidArgument, 'StreamID is no longer active');
      return;
    }
    // Only unary methods exist, so the client side of an active stream is already closed: a
    // close frame is a no-op, a message is a protocol error that ends the stream.
    if (frame.flags & Flag.RemoteClosed && frame.data.length > 0) {
      this.#fail(id, call, 'data close message cannot include data');
    } else if (!(frame.flags & Flag.NoData)) {
      this.#fail(id, call, 'data handling error: ttrpc: stream closed');
    }
  }

  #fail(id: number, call: ActiveCall, message: string): void {
    this.#calls.delete(id);
    this.#stop(call, new StatusError(Code.Canceled, `ttrpc: stream ${id} ended by the transport: ${message}`));
    this.#reject(id, Code.InvalidArgument, message);
    this.#closeIfDrained();
  }

  #complete(id: number, call: ActiveCall, outcome: CallOutcome): void {
    call.cancelDeadline?.();
    if (this.#calls.get(id) !== call) return;
    this.#calls.delete(id);
    // An oversize reply becomes a ResourceExhausted status on its own stream; Go ttrpc drops the
    // whole connection instead.
    this.#send(responseFrame(id, outcome));
    this.#closeIfDrained();
  }

  #stop(call: ActiveCall, reason: StatusError): void {
    call.cancelDeadline?.();
    call.controller.abort(reason);
  }

  #reject(id: number, code: Code, message: string): void {
    this.#send(statusFrame(id, code, message));
  }

  #send(frame: Buffer): void {
    if (this.#closed) return;
    this.#sink.write(frame);
    if (this.#sink.bufferedBytes > this.#limits.maxBufferedBytes) {
      this.#onError(new Error(`ttrpc: closing connection: peer left ${this.#sink.bufferedBytes} bytes of replies unread`));
      this.#close(false);
    }
  }

  #closeIfDrained(): void {
    if (this.#draining && this.#calls.size === 0) this.#close(true);
  }

  #close(flush: boolean): void {
    if (this.#closed) return;
    this.abandon();
    if (flush) this.#sink.end();
    else this.#sink.destroy();
  }
}
