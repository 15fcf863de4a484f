import { Code } from '../errors/index.js';
import { StatusError } from '../errors/index.js';

export const HEADER_LENGTH = 10;
export const MAX_MESSAGE = 4 << 20;

export const MessageType = { Request: 1, Response: 2, Data: 3 } as const;
export const Flag = { RemoteClosed: 0x01, RemoteOpen: 0x02, NoData: 0x04 } as const;

export interface FrameHeader {
  streamId: number;
  type: number;
  flags: number;
}

export interface Frame extends FrameHeader {
  kind: 'frame';
  data: Buffer;
}

/** A frame whose declared length exceeded MAX_MESSAGE; its body has been read and thrown away. */
export interface OversizeFrame extends FrameHeader {
  kind: 'oversize';
  length: number;
}

export type DecodedItem = Frame | OversizeFrame;

/** Go ttrpc's wording, which peers may match on. */
export function oversizeMessage(length: number): string {
  return `message length ${length} exceed maximum message size of ${MAX_MESSAGE}`;
}

export function encodeFrame(streamId: number, type: number, flags: number, data: Uint8Array): Buffer {
  if (data.length > MAX_MESSAGE) throw new StatusError(Code.ResourceExhausted, oversizeMessage(data.length));
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + data.length);
  frame.writeUInt32BE(data.length, 0);
  frame.writeUInt32BE(streamId, 4);
  frame[8] = type;
  frame[9] = flags;
  frame.set(data, HEADER_LENGTH);
  return frame;
}

/**
 * Incremental frame decoder: accepts the byte stream in chunks of any size and yields each
 * complete frame once. Memory held is at most one frame (≤ 4 MiB) plus the unread chunk tail;
 * the body of an oversize frame is skipped as it arrives, never buffered.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #head = 0; // index of the first unconsumed chunk; avoids O(n²) shifting when chunks are tiny
  #buffered = 0;
  #header: (FrameHeader & { length: number }) | undefined;
  #skipping: (FrameHeader & { length: number; remaining: number }) | undefined;

  /** Bytes held while waiting for the rest of a frame (a parsed header no longer counts). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  *push(chunk: Uint8Array): Generator<DecodedItem> {
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.#buffered += chunk.length;
    }
    for (;;) {
      if (this.#skipping) {
        this.#skipping.remaining -= this.#discard(this.#skipping.remaining);
        if (this.#skipping.remaining > 0) return;
        const { streamId, type, flags, length } = this.#skipping;
        this.#skipping = undefined;
        yield { kind: 'oversize', streamId, type, flags, length };
        continue;
      }
      if (!this.#header) {
        if (this.#buffered < HEADER_LENGTH) return;
        const h = this.#take(HEADER_LENGTH);
        const header = { length: h.readUInt32BE(0), streamId: h.readUInt32BE(4), type: h[8]!, flags: h[9]! };
        if (header.length > MAX_MESSAGE) {
          this.#skipping = { ...header, remaining: header.length };
          continue;
        }
        this.#header = header;
      }
      if (this.#buffered < this.#header.length) return;
      const { streamId, type, flags, length } = this.#header;
      this.#header = undefined;
      yield { kind: 'frame', streamId, type, flags, data: this.#take(length) };
    }
  }

  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.#buffered -= n;
    const first = this.#chunks[this.#head]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      this.#advance(first, n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[this.#head]!;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      this.#advance(chunk, used);
    }
    return out;
  }

  #discard(n: number): number {
    let dropped = 0;
    while (dropped < n && this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head]!;
      const used = Math.min(chunk.length, n - dropped);
      dropped += used;
      this.#advance(chunk, used);
    }
    this.#buffered -= dropped;
    return dropped;
  }

  #advance(chunk: Buffer, used: number): void {
    if (used < chunk.length) {
      this.#chunks[this.#head] = chunk.subarray(used);
      return;
    }
    this.#head++;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
