import { describe, expect, it } from 'vitest';
import { Code, TtrpcError } from '../../../src/ttrpc/index.js';

const errno = (code: string) => Object.assign(new Error(`${code}: boom`), { code });

describe('TtrpcError.from', () => {
  it('passes a TtrpcError through unchanged', () => {
    const err = new TtrpcError(Code.NotFound, 'gone');
    expect(TtrpcError.from(err)).toBe(err);
  });

  it.each([
    ['ENOENT', Code.NotFound],
    ['EEXIST', Code.AlreadyExists],
    ['EACCES', Code.PermissionDenied],
    ['EPERM', Code.PermissionDenied],
    ['EPIPE', Code.FailedPrecondition],
    ['EIO', Code.Unknown],
  ])('maps errno %s like Go convertCode (code %i), keeping message and cause', (name, code) => {
    const cause = errno(name);
    const err = TtrpcError.from(cause);
    expect(err.code).toBe(code);
    expect(err.message).toBe(`${name}: boom`);
    expect(err.cause).toBe(cause);
  });

  it('maps an aborted signal to Canceled and a timed-out one to DeadlineExceeded', () => {
    const aborted = new AbortController();
    aborted.abort();
    expect(TtrpcError.from(aborted.signal.reason).code).toBe(Code.Canceled);
    expect(TtrpcError.from(new DOMException('timed out', 'TimeoutError')).code).toBe(Code.DeadlineExceeded);
  });

  it('turns a thrown non-Error into Unknown with its text', () => {
    expect(TtrpcError.from('plain string').toStatus()).toEqual({ code: Code.Unknown, message: 'plain string' });
  });

  it('exposes the status sent on the wire', () => {
    expect(new TtrpcError(Code.AlreadyExists, 'id e1: already exists').toStatus()).toEqual({ code: 6, message: 'id e1: already exists' });
  });
});
