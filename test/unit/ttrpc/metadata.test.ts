import { describe, expect, it } from 'vitest';
import { keyValuesFromInit, metadataFromKeyValues } from '../../../src/ttrpc/metadata.js';

describe('metadataFromKeyValues', () => {
  it('lower-cases keys and keeps repeated keys in order', () => {
    const md = metadataFromKeyValues([
      { key: 'Containerd-Namespace-Ttrpc', value: 'default' },
      { key: 'x-trace', value: 'a' },
      { key: 'X-TRACE', value: 'b' },
    ]);
    expect([...md]).toEqual([['containerd-namespace-ttrpc', ['default']], ['x-trace', ['a', 'b']]]);
  });

  it('reads missing keys and values as empty strings, and no pairs as empty metadata', () => {
    expect([...metadataFromKeyValues([{ value: 'v' }, { key: 'k' }])]).toEqual([['', ['v']], ['k', ['']]]);
    expect(metadataFromKeyValues(undefined).size).toBe(0);
  });
});

describe('keyValuesFromInit', () => {
  it('takes a record or pairs, lower-casing keys and keeping repeats', () => {
    expect(keyValuesFromInit({ A: '1' })).toEqual([{ key: 'a', value: '1' }]);
    expect(keyValuesFromInit([['K', 'x'], ['k', 'y']])).toEqual([{ key: 'k', value: 'x' }, { key: 'k', value: 'y' }]);
    expect(keyValuesFromInit(undefined)).toEqual([]);
  });
});
