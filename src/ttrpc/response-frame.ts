import { ttrpc } from '../api/gen/proto.js';
import { Code } from '../errors/index.js';
import { HEADER_LENGTH, MAX_MESSAGE, MessageType, encodeFrame, oversizeMessage } from './frame-codec.js';

export type CallOutcome = { payload: Uint8Array } | { status: { code: number; message: string } };

const RESPONSE_PAYLOAD_TAG = (2 << 3) | 2; // ttrpc.Response field 2, length-delimited

/**
 * Frames a call's outcome as a ttrpc.Response. A success reply is laid out by hand in one buffer,
 * because replies can be megabytes and each intermediate protobuf copy costs as much as the
 * whole transfer.
 */
export function responseFrame(streamId: number, outcome: CallOutcome): Buffer {
  if ('status' in outcome) return statusFrame(streamId, outcome.status.code, outcome.status.message);
  const payload = outcome.payload;
  // proto3 omits an empty bytes field, so an Empty reply is a zero-length frame, as Go sends it.
  const length = payload.length === 0 ? 0 : 1 + varintSize(payload.length) + payload.length;
  if (length > MAX_MESSAGE) return statusFrame(streamId, Code.ResourceExhausted, oversizeMessage(length));
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + length);
  frame.writeUInt32BE(length, 0);
  frame.writeUInt32BE(streamId, 4);
  frame[8] = MessageType.Response;
  frame[9] = 0;
  if (length > 0) {
    let at = HEADER_LENGTH;
    frame[at++] = RESPONSE_PAYLOAD_TAG;
    for (let n = payload.length; ; n >>>= 7) {
      if (n < 0x80) {
        frame[at++] = n;
        break;
      }
      frame[at++] = (n & 0x7f) | 0x80;
    }
    frame.set(payload, at);
  }
  return frame;
}

export function statusFrame(streamId: number, code: number, message: string): Buffer {
  // A status with code 0 would read as success to every client.
  const status = { code: code === Code.OK ? Code.Unknown : code, message };
  return encodeFrame(streamId, MessageType.Response, 0, ttrpc.Response.encode({ status }).finish());
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n >>>= 7;
    size++;
  }
  return size;
}
