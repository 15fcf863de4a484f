import fc from 'fast-check';
import Long from 'long';
import { ttrpc } from '../../../src/api/gen/proto.js';
import { Code, Flag, MAX_MESSAGE, MessageType, type ServiceDef, StatusError, encodeFrame } from '../../../src/ttrpc/index.js';
import { bytesMethod } from './helpers.js';

/**
 * A reference model of the server's answers, written independently of the incremental decoder:
 * it parses the whole byte stream at once and applies spec §2.3/§2.7/§2.8 rule by rule.
 */

export const FUZZ_SERVICE = 'fuzz.Svc';

/** Echo answers at once, Fail with NotFound, Strict rejects any non-empty payload, Hold never answers. */
export function fuzzService(onHold: (signal: AbortSignal) => void): ServiceDef {
  return {
    Echo: bytesMethod((b) => b),
    Fail: bytesMethod(() => {
      throw new StatusError(Code.NotFound, 'nope');
    }),
    Strict: {
      decode: (b: Uint8Array) => {
        if (b.length > 0) throw new Error('strict decoder refuses bytes');
        return b;
      },
      encode: (b: Uint8Array) => b,
      handler: (b: Uint8Array) => b,
    },
    Hold: bytesMethod(
      (_b, ctx) =>
        new Promise<Uint8Array>((_resolve, reject) => {
          onHold(ctx.signal);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    ),
  };
}

export interface Reply {
  streamId: number;
  code: number;
  message: string;
  payload: string; // hex
}

export const replyKey = (r: Reply) => `${r.streamId}|${r.code}|${r.message}|${r.payload}`;

/** Expected replies, or 'ambiguous' when a Data frame races an immediately answered call. */
export function expectedReplies(stream: VirtualStream): { replies: Reply[]; holds: number } | 'ambiguous' {
  const replies: Reply[] = [];
  const status = (streamId: number, code: number, message: string) => replies.push({ streamId, code, message, payload: '' });
  const held = new Set<number>();
  const quick = new Set<number>();
  let holds = 0;
  let last = 0;
  let pos = 0;
  while (pos + 10 <= stream.length) {
    const header = stream.read(pos, 10);
    const length = header.readUInt32BE(0);
    const id = header.readUInt32BE(4);
    const type = header[8]!;
    const flags = header[9]!;
    pos += 10;
    if (pos + length > stream.length) break;
    const data = length > MAX_MESSAGE ? Buffer.alloc(0) : stream.read(pos, length);
    pos += length;
    if (length > MAX_MESSAGE) {
      status(id, 8, `message length ${length} exceed maximum message size of 4194304`);
    } else if (id % 2 === 0) {
      status(id, 3, 'StreamID must be odd for client initiated streams');
    } else if (type === 1) {
      if (id <= last) {
        status(id, 3, 'StreamID cannot be re-used and must increment');
        continue;
      }
      last = id;
      let req: ttrpc.Request;
      try {
        req = ttrpc.Request.decode(data);
      } catch (err) {
        status(id, 3, `unmarshal request error: ${(err as Error).message}`);
        continue;
      }
      const methods = ['Echo', 'Fail', 'Strict', 'Hold'];
      if (req.service !== FUZZ_SERVICE) status(id, 12, `service ${req.service}`);
      else if (!methods.includes(req.method)) status(id, 12, `method ${req.method}`);
      else if (req.method === 'Hold') {
        held.add(id);
        holds++;
      } else {
        quick.add(id);
        if (req.method === 'Fail') status(id, 5, 'nope');
        else if (req.method === 'Strict' && req.payload.length > 0) status(id, 13, 'ttrpc: error unmarshalling payload: strict decoder refuses bytes');
        else replies.push({ streamId: id, code: 0, message: '', payload: Buffer.from(req.payload).toString('hex') });
      }
    } else if (type === 3) {
      if (quick.has(id)) return 'ambiguous';
      if (!held.has(id)) status(id, 3, 'StreamID is no longer active');
      else if (flags & Flag.RemoteClosed && data.length > 0) {
        held.delete(id);
        status(id, 3, 'data close message cannot include data');
      } else if (!(flags & Flag.NoData)) {
        held.delete(id);
        status(id, 3, 'data handling error: ttrpc: stream closed');
      }
    }
  }
  return { replies, holds };
}

type Segment =
  | { kind: 'request'; id: 'next' | 'even' | 'reuse'; service: string; method: string; payload: Uint8Array; timeout: bigint; metadata: Array<[string, string]>; flags: number }
  | { kind: 'data'; target: 'held' | 'fresh'; flags: number; data: Uint8Array }
  | { kind: 'badRequest'; body: Uint8Array }
  | { kind: 'otherType'; type: number; data: Uint8Array }
  | { kind: 'oversize'; extra: number; type: number; complete: boolean }
  | { kind: 'garbage'; bytes: Uint8Array };

const segment = (withOversize: boolean): fc.Arbitrary<Segment> =>
  fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        kind: fc.constant('request' as const),
        id: fc.constantFrom('next' as const, 'next' as const, 'next' as const, 'even' as const, 'reuse' as const),
        service: fc.oneof({ weight: 8, arbitrary: fc.constant(FUZZ_SERVICE) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
        method: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom('Echo', 'Fail', 'Strict', 'Hold') },
          { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
        ),
        payload: fc.uint8Array({ maxLength: 48 }),
        timeout: fc.constantFrom(0n, 1n, -1n, 1_000_000_000n, 2n ** 63n - 1n, -(2n ** 63n)),
        metadata: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { maxLength: 3 }),
        flags: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('data' as const),
        target: fc.constantFrom('held' as const, 'fresh' as const),
        flags: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 })),
        data: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 16 })),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('badRequest' as const), body: fc.uint8Array({ minLength: 1, maxLength: 40 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('otherType' as const),
        type: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 1 && t !== 3),
        data: fc.uint8Array({ maxLength: 16 }),
      }),
    },
    {
      weight: withOversize ? 1 : 0,
      arbitrary: fc.record({
        kind: fc.constant('oversize' as const),
        extra: fc.integer({ min: 1, max: 64 }),
        type: fc.constantFrom(1, 2, 3),
        complete: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }) },
  );

export interface FuzzInput {
  segments: Segment[];
  /** Random cut points, as fractions of the stream length, where chunks are split. */
  cuts: number[];
  /** Fraction of the stream actually sent (1 = all). */
  keep: number;
}

export const fuzzInput = (withOversize: boolean): fc.Arbitrary<FuzzInput> =>
  fc.record({
    segments: fc.array(segment(withOversize), { minLength: 1, maxLength: 8 }),
    cuts: fc.array(fc.integer({ min: 0, max: 1 << 16 }).map((n) => n / (1 << 16)), { maxLength: 12 }),
    keep: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 1 << 16 }).map((n) => n / (1 << 16)) }),
  });

// 0xff filler: should misaligned framing land inside it, the header read there declares a huge
// length and swallows the rest, instead of parsing as a flood of tiny frames.
const filler = Buffer.alloc(MAX_MESSAGE + 64, 0xff);

/** Turns the description into bytes and the chunks they are delivered in. */
export function materialize(input: FuzzInput): { stream: VirtualStream; chunks: Buffer[] } {
  const parts: Buffer[] = [];
  let next = 1;
  let last = 0;
  const held: number[] = [];
  const advance = () => {
    const id = next;
    next += 2 * (1 + (id % 3));
    last = id;
    return id;
  };
  for (const s of input.segments) {
    // A partial oversize body ends the stream: anything after it would be swallowed as body bytes,
    // and the zero filler would parse as a flood of id-0 frames.
    if (s.kind === 'oversize' && !s.complete) {
      const header = Buffer.alloc(10);
      header.writeUInt32BE(MAX_MESSAGE + s.extra, 0);
      header.writeUInt32BE(advance(), 4);
      header[8] = s.type;
      parts.push(header, filler.subarray(0, MAX_MESSAGE >> 1));
      break;
    }
    switch (s.kind) {
      case 'request': {
        const id = s.id === 'next' ? advance() : s.id === 'even' ? next + 1 : Math.max(1, last);
        if (s.method === 'Hold' && s.service === FUZZ_SERVICE && s.id === 'next') held.push(id);
        const req = ttrpc.Request.encode({
          service: s.service,
          method: s.method,
          payload: s.payload,
          timeoutNano: s.method === 'Hold' ? undefined : Long.fromString(s.timeout.toString()),
          metadata: s.metadata.map(([key, value]) => ({ key, value })),
        }).finish();
        parts.push(encodeFrame(id, MessageType.Request, s.flags, req));
        break;
      }
      case 'data': {
        const id = s.target === 'held' && held.length > 0 ? held[held.length - 1]! : 1_000_001 + 2 * parts.length;
        parts.push(encodeFrame(id, MessageType.Data, s.flags, s.data));
        break;
      }
      case 'badRequest':
        parts.push(encodeFrame(advance(), MessageType.Request, 0, s.body));
        break;
      case 'otherType':
        parts.push(encodeFrame(advance(), s.type, 0, s.data));
        break;
      case 'oversize': {
        const length = MAX_MESSAGE + s.extra;
        const header = Buffer.alloc(10);
        header.writeUInt32BE(length, 0);
        header.writeUInt32BE(advance(), 4);
        header[8] = s.type;
        parts.push(header, filler.subarray(0, length));
        break;
      }
      case 'garbage':
        parts.push(Buffer.from(s.bytes));
        break;
    }
  }
  const stream = new VirtualStream(parts);
  stream.truncate(Math.floor(stream.length * input.keep));
  return { stream, chunks: stream.chunks(input.cuts.map((c) => Math.floor(c * stream.length))) };
}

/** The concatenation of parts, without copying the 4 MiB bodies of oversize frames. */
export class VirtualStream {
  #parts: Buffer[];
  #starts: number[] = [];
  length = 0;

  constructor(parts: Buffer[]) {
    this.#parts = parts.filter((p) => p.length > 0);
    for (const p of this.#parts) {
      this.#starts.push(this.length);
      this.length += p.length;
    }
  }

  truncate(length: number): void {
    const kept: Buffer[] = [];
    for (let i = 0; i < this.#parts.length && this.#starts[i]! < length; i++) {
      kept.push(this.#parts[i]!.subarray(0, length - this.#starts[i]!));
    }
    this.#parts = kept;
    this.length = Math.min(this.length, length);
  }

  read(pos: number, n: number): Buffer {
    const out = Buffer.alloc(n);
    let i = this.#starts.findLastIndex((s) => s <= pos);
    let filled = 0;
    while (filled < n) {
      const part = this.#parts[i]!;
      const from = pos + filled - this.#starts[i]!;
      filled += part.copy(out, filled, from, Math.min(part.length, from + n - filled));
      i++;
    }
    return out;
  }

  /** Splits at the given offsets and at part boundaries; small neighbours are merged unless a cut separates them. */
  chunks(cuts: number[]): Buffer[] {
    const cutSet = new Set(cuts);
    const out: Buffer[] = [];
    let pending: Buffer[] = [];
    const flush = () => {
      if (pending.length > 0) out.push(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
      pending = [];
    };
    this.#parts.forEach((part, i) => {
      const start = this.#starts[i]!;
      const inside = [...cutSet].filter((c) => c > start && c < start + part.length).sort((a, b) => a - b);
      let from = 0;
      if (cutSet.has(start) || part.length > 65536) flush();
      for (const c of [...inside.map((c) => c - start), part.length]) {
        pending.push(part.subarray(from, c));
        if (c < part.length || part.length > 65536) flush();
        from = c;
      }
    });
    flush();
    return out;
  }
}
