import { describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import type { CallContext, MethodDef } from '../../../src/ttrpc/service.js';
import { runUnary } from '../../../src/ttrpc/unary-call.js';

const ctx: CallContext = { service: 'test.S', method: 'M', metadata: new Map(), signal: new AbortController().signal };
const text = (s: string) => Buffer.from(s);

function method(over: Partial<MethodDef<string, string>>): MethodDef<string, string> {
  return { decode: (b) => Buffer.from(b).toString(), encode: (r) => text(r), handler: (r) => r.toUpperCase(), ...over };
}

describe('runUnary', () => {
  it('decodes, runs the handler with the context and encodes its reply', async () => {
    let seen: CallContext | undefined;
    const outcome = await runUnary(method({ handler: async (r, c) => { seen = c; return `${r}!`; } }), text('hi'), ctx);
    expect(outcome).toEqual({ payload: text('hi!') });
    expect(seen).toBe(ctx);
  });

  it('answers Internal with Go ttrpc\'s text when the request does not decode', async () => {
    const outcome = await runUnary(method({ decode: () => { throw new Error('bad wire type'); } }), text('x'), ctx);
    expect(outcome).toEqual({ status: { code: Code.Internal, message: 'ttrpc: error unmarshalling payload: bad wire type' } });
  });

  it('answers the status a handler throws', async () => {
    const outcome = await runUnary(method({ handler: () => { throw new StatusError(Code.NotFound, 'process e1: not found'); } }), text('x'), ctx);
    expect(outcome).toEqual({ status: { code: Code.NotFound, message: 'process e1: not found' } });
  });

  it('answers Unknown for a plain error from a handler', async () => {
    const outcome = await runUnary(method({ handler: async () => { throw new Error('boom'); } }), text('x'), ctx);
    expect(outcome).toMatchObject({ status: { code: Code.Unknown } });
    expect((outcome as { status: { message: string } }).status.message).toContain('boom');
  });

  it('answers Internal when the reply does not encode', async () => {
    const outcome = await runUnary(method({ encode: () => { throw new Error('too deep'); } }), text('x'), ctx);
    expect(outcome).toEqual({ status: { code: Code.Internal, message: 'ttrpc: error marshaling payload: too deep' } });
  });
});
