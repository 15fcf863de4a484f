import { describe, expect, it } from 'vitest';
import { ttrpc } from '../../../src/api/gen/proto.js';
import { Code } from '../../../src/errors/index.js';
import { HEADER_LENGTH, MAX_MESSAGE, MessageType } from '../../../src/ttrpc/frame-codec.js';
import { responseFrame, statusFrame } from '../../../src/ttrpc/response-frame.js';

function split(frame: Buffer): { length: number; streamId: number; type: number; flags: number; body: Buffer } {
  return { length: frame.readUInt32BE(0), streamId: frame.readUInt32BE(4), type: frame[8]!, flags: frame[9]!, body: frame.subarray(HEADER_LENGTH) };
}

describe('responseFrame', () => {
  it('lays out a reply as the ttrpc.Response protobufjs would encode', () => {
    for (const size of [1, 127, 128, 300, 70_000]) {
      const payload = Buffer.alloc(size, 7);
      const f = split(responseFrame(5, { payload }));
      expect(f).toMatchObject({ streamId: 5, type: MessageType.Response, flags: 0, length: f.body.length });
      expect(f.body.equals(Buffer.from(ttrpc.Response.encode({ payload }).finish()))).toBe(true);
    }
  });

  it('sends an empty reply as a zero-length frame', () => {
    expect(responseFrame(3, { payload: new Uint8Array(0) }).toString('hex')).toBe('00000000000000030200');
  });

  it('frames a status outcome as Response.status', () => {
    const f = split(responseFrame(7, { status: { code: Code.NotFound, message: 'container c1: not found' } }));
    expect(f.streamId).toBe(7);
    expect(ttrpc.Response.decode(f.body).status).toMatchObject({ code: Code.NotFound, message: 'container c1: not found' });
  });

  it('answers ResourceExhausted instead of a reply larger than a frame may be', () => {
    const f = split(responseFrame(9, { payload: Buffer.alloc(MAX_MESSAGE) }));
    const status = ttrpc.Response.decode(f.body).status!;
    expect(status.code).toBe(Code.ResourceExhausted);
    expect(status.message).toMatch(/message length \d+ exceed maximum message size/);
  });
});

describe('statusFrame', () => {
  it('never sends code 0 as an error: it reads as Unknown', () => {
    const f = split(statusFrame(1, Code.OK, 'odd'));
    expect(ttrpc.Response.decode(f.body).status).toMatchObject({ code: Code.Unknown, message: 'odd' });
  });
});
