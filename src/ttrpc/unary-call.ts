import { ttrpc } from '../api/gen/proto.js';
import { Code } from './codes.js';
import type { CallContext, MethodDef } from './service.js';
import { TtrpcError, errorText } from './status-error.js';

export function statusResponse(code: number, message: string): Uint8Array {
  // A status with code 0 would read as success to every client.
  return ttrpc.Response.encode({ status: { code: code === Code.OK ? Code.Unknown : code, message } }).finish();
}

/** Runs one unary method and returns the encoded ttrpc.Response; never rejects. */
export async function runUnary(def: MethodDef, payload: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
  let req: unknown;
  try {
    req = def.decode(payload);
  } catch (err) {
    return statusResponse(Code.Internal, `ttrpc: error unmarshalling payload: ${errorText(err)}`);
  }
  let res: unknown;
  try {
    res = await def.handler(req, ctx);
  } catch (err) {
    const { code, message } = TtrpcError.from(err).toStatus();
    return statusResponse(code, message);
  }
  let bytes: Uint8Array;
  try {
    bytes = def.encode(res);
  } catch (err) {
    return statusResponse(Code.Internal, `ttrpc: error marshaling payload: ${errorText(err)}`);
  }
  // proto3 omits an empty bytes field, so an Empty reply is a zero-length frame, as Go sends it.
  return ttrpc.Response.encode(bytes.length > 0 ? { payload: bytes } : {}).finish();
}
