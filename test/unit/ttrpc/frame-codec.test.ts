import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Code, FrameDecoder, MAX_MESSAGE, StatusError, encodeFrame, type DecodedItem } from '../../../src/ttrpc/index.js';

const frameArb = fc.record({
  streamId: fc.integer({ min: 0, max: 0xffffffff }),
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 300 }),
});

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

const drain = (decoder: FrameDecoder, chunks: Uint8Array[]) => chunks.flatMap((c) => [...decoder.push(c)]);

describe('frame codec', () => {
  it('writes the 10-byte big-endian header before the data', () => {
    expect(encodeFrame(0x01020304, 3, 5, Buffer.from('ab'))).toEqual(Buffer.from('00000002010203040305' + '6162', 'hex'));
  });

  it('refuses to encode more than 4 MiB of data, with Go ttrpc wording', () => {
    expect(() => encodeFrame(1, 1, 0, new Uint8Array(MAX_MESSAGE + 1))).toThrow(
      new StatusError(Code.ResourceExhausted, 'message length 4194305 exceed maximum message size of 4194304'),
    );
    expect(encodeFrame(1, 1, 0, new Uint8Array(MAX_MESSAGE))).toHaveLength(MAX_MESSAGE + 10);
  });

  it('decodes any sequence of frames identically however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.streamId, f.type, f.flags, f.data)));
        const items = drain(new FrameDecoder(), splitAt(bytes, cuts));
        expect(items).toEqual(frames.map((f) => ({ kind: 'frame', streamId: f.streamId, type: f.type, flags: f.flags, data: Buffer.from(f.data) })));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes a stream fed one byte at a time', () => {
    const bytes = Buffer.concat([encodeFrame(1, 1, 0, Buffer.from('hello')), encodeFrame(3, 2, 0, Buffer.alloc(0)), encodeFrame(5, 3, 4, Buffer.from('z'))]);
    const items = drain(new FrameDecoder(), [...bytes].map((b) => Uint8Array.of(b)));
    expect(items.map((i) => i.streamId)).toEqual([1, 3, 5]);
  });

  it('holds back a truncated frame until the rest arrives', () => {
    const frame = encodeFrame(7, 1, 0, Buffer.from('payload'));
    const decoder = new FrameDecoder();
    expect([...decoder.push(frame.subarray(0, 12))]).toEqual([]);
    expect(decoder.bufferedBytes).toBe(2);
    expect([...decoder.push(frame.subarray(12))]).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('skips the body of an oversize frame without buffering it and reports it after the last byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_MESSAGE + 1, max: MAX_MESSAGE + 5000 }), fc.array(fc.nat(), { maxLength: 8 }), (length, cuts) => {
        const header = Buffer.alloc(10);
        header.writeUInt32BE(length, 0);
        header.writeUInt32BE(9, 4);
        header[8] = 1;
        const next = encodeFrame(11, 1, 0, Buffer.from('next'));
        const bytes = Buffer.concat([header, Buffer.alloc(length, 0x01), next]);
        const decoder = new FrameDecoder();
        const items: DecodedItem[] = [];
        for (const chunk of splitAt(bytes, cuts)) {
          items.push(...decoder.push(chunk));
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(next.length);
        }
        expect(items).toEqual([
          { kind: 'oversize', streamId: 9, type: 1, flags: 0, length },
          { kind: 'frame', streamId: 11, type: 1, flags: 0, data: Buffer.from('next') },
        ]);
      }),
      { numRuns: 30 },
    );
  });

  it('does not report an oversize frame whose body never fully arrives', () => {
    const header = Buffer.alloc(10);
    header.writeUInt32BE(0xffffffff, 0);
    expect(drain(new FrameDecoder(), [header, Buffer.alloc(1000)])).toEqual([]);
  });
});
