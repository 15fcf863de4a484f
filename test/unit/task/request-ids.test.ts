import { describe, expect, it } from 'vitest';
import type { CallContext, ServiceDef } from '../../../src/ttrpc/index.js';
import { withIdentifierChecks } from '../../../src/task/request-ids.js';

const ctx = { signal: new AbortController().signal } as CallContext;

function service(calls: string[]): ServiceDef {
  const method = (name: string) => ({
    decode: (b: Uint8Array) => b,
    encode: (r: unknown) => r as Uint8Array,
    handler: (req: { id?: string }) => {
      calls.push(`${name}:${req.id}`);
      return 'ok';
    },
  });
  return { State: method('State'), Exec: method('Exec'), Shutdown: method('Shutdown'), Connect: method('Connect') };
}

describe('Task API id checks', () => {
  it('refuses a bad container id with InvalidArgument before the handler runs', () => {
    const calls: string[] = [];
    const s = withIdentifierChecks(service(calls));
    expect(() => s.State!.handler({ id: '../../victim' }, ctx)).toThrow(expect.objectContaining({ code: 3 }));
    expect(() => s.State!.handler({ id: '' }, ctx)).toThrow(/invalid container id: identifier must not be empty: invalid argument/);
    expect(calls).toEqual([]);
    expect(s.State!.handler({ id: 'good' }, ctx)).toBe('ok');
    expect(calls).toEqual(['State:good']);
  });

  it('refuses a bad exec id, and lets an empty one (the init) through', () => {
    const calls: string[] = [];
    const s = withIdentifierChecks(service(calls));
    expect(() => s.Exec!.handler({ id: 'c1', execId: 'e/1' }, ctx)).toThrow(/invalid exec id: identifier "e\/1" must match/);
    expect(s.Exec!.handler({ id: 'c1', execId: '' }, ctx)).toBe('ok');
    expect(s.Exec!.handler({ id: 'c1', execId: 'e1' }, ctx)).toBe('ok');
  });

  it('Connect and Shutdown may omit the id, but not send a bad one', () => {
    const calls: string[] = [];
    const s = withIdentifierChecks(service(calls));
    expect(s.Shutdown!.handler({}, ctx)).toBe('ok');
    expect(s.Connect!.handler({ id: '' }, ctx)).toBe('ok');
    expect(() => s.Shutdown!.handler({ id: 'a/../b' }, ctx)).toThrow(expect.objectContaining({ code: 3 }));
  });
});
