import { describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import { ServiceRegistry, type MethodDef } from '../../../src/ttrpc/service.js';

const echo: MethodDef<Uint8Array, Uint8Array> = { decode: (b) => b, encode: (r) => r, handler: (r) => r };

describe('ServiceRegistry', () => {
  it('finds a registered method', () => {
    const r = new ServiceRegistry();
    r.register('test.Echo', { Echo: echo });
    expect(r.lookup('test.Echo', 'Echo')).toBe(echo);
  });

  it('answers Unimplemented for an unknown service or method, as Go ttrpc does', () => {
    const r = new ServiceRegistry();
    r.register('test.Echo', { Echo: echo });
    expect(() => r.lookup('test.Other', 'Echo')).toThrow(new StatusError(Code.Unimplemented, 'service test.Other'));
    expect(() => r.lookup('test.Echo', 'Nope')).toThrow(expect.objectContaining({ code: Code.Unimplemented, message: 'method Nope' }));
  });

  it('does not take inherited properties for methods', () => {
    const r = new ServiceRegistry();
    r.register('test.Echo', { Echo: echo });
    expect(() => r.lookup('test.Echo', 'toString')).toThrow(expect.objectContaining({ code: Code.Unimplemented }));
  });

  it('refuses a second service under the same name', () => {
    const r = new ServiceRegistry();
    r.register('test.Echo', { Echo: echo });
    expect(() => r.register('test.Echo', {})).toThrow('duplicate service test.Echo registered');
  });
});
