import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { google, ttrpc } from '../../../src/api/gen/proto.js';
import { FrameDecoder, type DecodedItem, type MethodDef, MessageType, encodeFrame } from '../../../src/ttrpc/index.js';

export interface TempDir {
  path: string;
  socket(name?: string): string;
  remove(): void;
}

export function tempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'ttrpc-'));
  let n = 0;
  return {
    path,
    socket: (name) => join(path, name ?? `s${n++}.sock`),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** A method over raw bytes: the test controls the payload exactly. */
export function bytesMethod(handler: MethodDef<Uint8Array, Uint8Array>['handler']): MethodDef<Uint8Array, Uint8Array> {
  return { decode: (b) => b, encode: (b) => b, handler };
}

export function requestFrame(
  streamId: number,
  req: ttrpc.Request.$Properties,
  flags = 0,
): Buffer {
  return encodeFrame(streamId, MessageType.Request, flags, ttrpc.Request.encode(req).finish());
}

export interface DecodedResponse {
  streamId: number;
  code: number;
  message: string;
  payload: Buffer;
}

export function decodeResponse(item: DecodedItem): DecodedResponse {
  if (item.kind !== 'frame' || item.type !== MessageType.Response) throw new Error(`unexpected ${JSON.stringify(item)}`);
  const res = ttrpc.Response.decode(item.data);
  return {
    streamId: item.streamId,
    code: res.status?.code ?? 0,
    message: res.status?.message ?? '',
    payload: Buffer.from(res.payload ?? []),
  };
}

export function statusOf(code: number, message: string): Uint8Array {
  return google.rpc.Status.encode({ code, message }).finish();
}

/** A raw connection that writes bytes and collects decoded response frames. */
export class RawPeer {
  readonly socket: net.Socket;
  readonly responses: DecodedResponse[] = [];
  readonly #decoder = new FrameDecoder();
  #waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const item of this.#decoder.push(chunk)) this.responses.push(decodeResponse(item));
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static connect(path: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves once `n` responses in total have arrived (or the socket closed). */
  async waitFor(n: number): Promise<DecodedResponse[]> {
    while (this.responses.length < n && !this.closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.responses;
  }

  async response(streamId: number): Promise<DecodedResponse> {
    for (;;) {
      const found = this.responses.find((r) => r.streamId === streamId);
      if (found) return found;
      if (this.closed) throw new Error(`connection closed before a response on stream ${streamId}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** Polls until `check` is true: connection bookkeeping settles a few ticks after a socket closes. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
