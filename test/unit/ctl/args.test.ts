import { describe, expect, it } from 'vitest';
import { keyValues, one, parseArgs, required, UsageError } from '../../../src/ctl/args.js';

const spec = { values: ['id', 'env', 'label'], bools: ['tty', 'rm'] };

describe('parseArgs', () => {
  it('reads --flag value, --flag=value, booleans and positionals', () => {
    const a = parseArgs(['--id', 'c1', '--tty', '--env=A=1', 'image', 'sh'], spec);
    expect(one(a, 'id')).toBe('c1');
    expect(a.values.get('env')).toEqual(['A=1']);
    expect([...a.bools]).toEqual(['tty']);
    expect(a.positional).toEqual(['image', 'sh']);
  });

  it('keeps every value of a repeated flag, the last winning for one()', () => {
    const a = parseArgs(['--id', 'a', '--id', 'b'], spec);
    expect(a.values.get('id')).toEqual(['a', 'b']);
    expect(one(a, 'id')).toBe('b');
  });

  it('takes words after the first positional, flags included, as positionals', () => {
    expect(parseArgs(['sh', '--tty', '-c'], spec).positional).toEqual(['sh', '--tty', '-c']);
    expect(parseArgs(['--rm', '--', '--id', 'x'], spec)).toMatchObject({ positional: ['--id', 'x'] });
  });

  it('refuses an unknown flag, a boolean with a value and a value flag at the end', () => {
    expect(() => parseArgs(['--nope'], spec)).toThrow(new UsageError('unknown flag --nope'));
    expect(() => parseArgs(['--tty=yes'], spec)).toThrow(new UsageError('--tty takes no value'));
    expect(() => parseArgs(['--id'], spec)).toThrow(new UsageError('--id needs a value'));
  });
});

describe('required and keyValues', () => {
  it('required gives the value or a usage error naming the flag', () => {
    expect(required(parseArgs(['--id', 'c'], spec), 'id')).toBe('c');
    expect(() => required(parseArgs([], spec), 'id')).toThrow(UsageError);
    expect(() => required(parseArgs([], spec), 'id')).toThrow('--id is required');
  });

  it('keyValues splits at the first = and keeps empty values', () => {
    const a = parseArgs(['--label', 'a=b=c', '--label', 'empty='], spec);
    expect(keyValues(a, 'label')).toEqual({ a: 'b=c', empty: '' });
    expect(keyValues(a, 'env')).toEqual({});
  });

  it('keyValues refuses a word without a key', () => {
    expect(() => keyValues(parseArgs(['--label', '=v'], spec), 'label')).toThrow('--label expects KEY=VALUE, got "=v"');
    expect(() => keyValues(parseArgs(['--label', 'novalue'], spec), 'label')).toThrow(UsageError);
  });
});
