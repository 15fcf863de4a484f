import { describe, expect, it } from 'vitest';
import { summarize } from '../../../src/trace/summarize.js';

describe('summarize', () => {
  it('elides large strings and byte fields and shows JSON payloads as objects', () => {
    const out = summarize({ big: 'x'.repeat(600), blob: new Uint8Array(200), small: new Uint8Array([1, 2]), spec: Buffer.from('{"args":["sh"]}') }) as Record<string, unknown>;
    expect(out.big).toMatch(/^x{512}…<88 more chars>$/);
    expect(out.blob).toBe('<200 bytes>');
    expect(out.small).toBe('AQI=');
    expect(out.spec).toEqual({ args: ['sh'] });
  });

  it('shows bytes that only look like JSON as base64', () => {
    expect(summarize(Buffer.from('{not json'))).toBe(Buffer.from('{not json').toString('base64'));
  });

  it('turns bigints and protobuf Longs into numbers and drops functions', () => {
    const long = { low: 5, high: 0, toNumber: () => 5 };
    expect(summarize({ a: 7n, b: long, f: () => 1, n: null })).toEqual({ a: 7, b: 5, n: null });
  });

  it('keeps the first 64 items of a long array and counts the rest', () => {
    const out = summarize(Array.from({ length: 70 }, (_, i) => i)) as unknown[];
    expect(out).toHaveLength(65);
    expect(out[63]).toBe(63);
    expect(out[64]).toBe('<6 more>');
  });

  it('stops at a nesting depth of 12', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 14; i += 1) deep = { d: deep };
    let out = summarize(deep) as Record<string, unknown>;
    for (let i = 0; i < 12; i += 1) out = out.d as Record<string, unknown>;
    expect(out.d).toBe('<nested too deep>');
  });
});
