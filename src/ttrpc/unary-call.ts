import { Code } from '../errors/index.js';
import type { CallOutcome } from './response-frame.js';
import type { CallContext, MethodDef } from './service.js';
import { StatusError, errorText } from '../errors/index.js';

/** Runs one unary method; never rejects. */
export async function runUnary(def: MethodDef, payload: Uint8Array, ctx: CallContext): Promise<CallOutcome> {
  let req: unknown;
  try {
    req = def.decode(payload);
  } catch (err) {
    return { status: { code: Code.Internal, message: `ttrpc: error unmarshalling payload: ${errorText(err)}` } };
  }
  let res: unknown;
  try {
    res = await def.handler(req, ctx);
  } catch (err) {
    return { status: StatusError.from(err).toStatus() };
  }
  try {
    return { payload: def.encode(res) };
  } catch (err) {
    return { status: { code: Code.Internal, message: `ttrpc: error marshaling payload: ${errorText(err)}` } };
  }
}
