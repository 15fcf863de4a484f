import { describe, expect, it } from 'vitest';
import { FlagError, identifierFlagProblem, parseFlags } from '../../../src/shim/flags.js';

describe('Go flag syntax', () => {
  it('parses the start invocation containerd uses', () => {
    const f = parseFlags(['-namespace', 'default', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 't1', '-debug', 'start']);
    expect(f).toMatchObject({ namespace: 'default', address: '/run/containerd/containerd.sock', publishBinary: '/usr/bin/containerd', id: 't1', debug: true, action: 'start' });
  });

  it('accepts -flag=value, --flag value and boolean values', () => {
    const f = parseFlags(['--namespace=k8s.io', '--id', 'x', '-debug=false', '-bundle=/b', 'delete', 'extra']);
    expect(f).toMatchObject({ namespace: 'k8s.io', id: 'x', debug: false, bundle: '/b', action: 'delete', rest: ['extra'] });
  });

  it('stops at the first non-flag word; no word means serve mode', () => {
    expect(parseFlags(['-id', 'x']).action).toBe('');
    expect(parseFlags(['-id', 'x', 'start', '-debug']).debug).toBe(false);
    expect(parseFlags(['--', '-id']).action).toBe('-id');
  });

  it('rejects unknown flags, missing values and bad booleans like Go does', () => {
    expect(() => parseFlags(['-nosuch'])).toThrow(new FlagError('flag provided but not defined: -nosuch'));
    expect(() => parseFlags(['-id'])).toThrow('flag needs an argument: -id');
    expect(() => parseFlags(['-debug=maybe'])).toThrow('invalid boolean value "maybe" for -debug');
    expect(() => parseFlags(['---id', 'x'])).toThrow('bad flag syntax: ---id');
  });

  it('-v and -info are booleans', () => {
    expect(parseFlags(['-v']).version).toBe(true);
    expect(parseFlags(['-info']).info).toBe(true);
  });
});

describe('-id and -namespace must be containerd identifiers', () => {
  it('accepts what containerd generates', () => {
    expect(identifierFlagProblem({ namespace: 'k8s.io', id: '3f2a9c_x-1' })).toBeUndefined();
  });

  it('names the flag and the rule for a path-like or empty value', () => {
    expect(identifierFlagProblem({ namespace: 'default', id: '../../victim' })).toMatch(/^invalid -id: identifier "\.\.\/\.\.\/victim" must match \^/);
    expect(identifierFlagProblem({ namespace: '../ns', id: 'ok' })).toMatch(/^invalid -namespace: /);
    expect(identifierFlagProblem({ namespace: 'default', id: '' })).toBe('invalid -id: identifier must not be empty');
  });
});
