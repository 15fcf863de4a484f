import { describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';

const errno = (code: string) => Object.assign(new Error(`${code}: boom`), { code });

describe('StatusError.from', () => {
  it('passes a StatusError through unchanged', () => {
    const err = new StatusError(Code.NotFound, 'gone');
    expect(StatusError.from(err)).toBe(err);
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
    const err = StatusError.from(cause);
    expect(err.code).toBe(code);
    expect(err.message).toBe(`${name}: boom`);
    expect(err.cause).toBe(cause);
  });

  it('maps an aborted signal to Canceled and a timed-out one to DeadlineExceeded', () => {
    const aborted = new AbortController();
    aborted.abort();
    expect(StatusError.from(aborted.signal.reason).code).toBe(Code.Canceled);
    expect(StatusError.from(new DOMException('timed out', 'TimeoutError')).code).toBe(Code.DeadlineExceeded);
  });

  it('turns a thrown non-Error into Unknown with its text', () => {
    expect(StatusError.from('plain string').toStatus()).toEqual({ code: Code.Unknown, message: 'plain string' });
  });

  it('exposes the status sent on the wire', () => {
    expect(new StatusError(Code.AlreadyExists, 'id e1: already exists').toStatus()).toEqual({ code: 6, message: 'id e1: already exists' });
  });
});
