import { describe, expect, it } from 'vitest';
import { FaultInjector, globToRegExp } from '../../../src/faults/fault-injector.js';
import type { FaultRule } from '../../../src/runtime/config.js';

const crash = { kind: 'crash' } as const;

describe('fault injector', () => {
  it('fires a counted rule that many times, then never again', () => {
    const f = new FaultInjector([{ index: 0, target: { method: 'Start' }, action: crash, count: 2 }]);
    expect([1, 2, 3].map(() => f.pick({ method: 'Start' }, 'a')?.index)).toEqual([0, 0, undefined]);
  });

  it('matches the method or runtime command and the id glob only', () => {
    const rules: FaultRule[] = [
      { index: 0, target: { method: 'Start' }, id: 'web-?', action: crash },
      { index: 1, target: { runtime: 'start' }, action: crash },
    ];
    const f = new FaultInjector(rules);
    expect(f.pick({ method: 'Start' }, 'web-1')?.index).toBe(0);
    expect(f.pick({ method: 'Start' }, 'web-12')).toBeUndefined();
    expect(f.pick({ method: 'Create' }, 'web-1')).toBeUndefined();
    expect(f.pick({ runtime: 'start' }, 'anything')?.index).toBe(1);
    expect(f.pick({ method: 'Start' }, undefined)).toBeUndefined();
  });

  it('draws against the probability', () => {
    const draws = [0.1, 0.9, 0.49];
    const f = new FaultInjector([{ index: 0, target: { method: 'Kill' }, action: crash, probability: 0.5 }], () => draws.shift()!);
    expect([1, 2, 3].map(() => f.pick({ method: 'Kill' }, 'x') !== undefined)).toEqual([true, false, true]);
  });

  it('globs treat only * and ? as wildcards', () => {
    expect(globToRegExp('a.b*').test('a.bcd')).toBe(true);
    expect(globToRegExp('a.b*').test('axbcd')).toBe(false);
  });
});
