import { describe, expect, it } from 'vitest';
import { parseStdio } from '../../../src/io/stdio-uri.js';
import { Code } from '../../../src/errors/index.js';

describe('parseStdio', () => {
  it('an empty string means the stream is not wanted', () => {
    expect(parseStdio('')).toEqual({ kind: 'none' });
  });

  it('a path without a scheme, or fifo://, is a FIFO', () => {
    expect(parseStdio('/run/containerd/fifo/123/c-stdout')).toEqual({ kind: 'fifo', path: '/run/containerd/fifo/123/c-stdout' });
    expect(parseStdio('fifo:///tmp/x')).toEqual({ kind: 'fifo', path: '/tmp/x' });
  });

  it('file:// names a log file, percent-decoded', () => {
    expect(parseStdio('file:///var/log/my%20app/c.log')).toEqual({ kind: 'file', path: '/var/log/my app/c.log' });
  });

  it('binary:// gives the logger path, then each query key followed by its first value', () => {
    expect(parseStdio('binary:///usr/bin/logger?foo=bar&x=y&foo=ignored&empty=')).toEqual({
      kind: 'binary',
      path: '/usr/bin/logger',
      args: ['foo', 'bar', 'x', 'y', 'empty', ''],
    });
    expect(parseStdio('binary:///usr/bin/logger?dir=%2Ftmp%2Fa%20b')).toMatchObject({ args: ['dir', '/tmp/a b'] });
    expect(parseStdio('binary:///usr/bin/logger')).toEqual({ kind: 'binary', path: '/usr/bin/logger', args: [] });
  });

  it('refuses unknown schemes with the reference wording', () => {
    expect(() => parseStdio('tcp://host:1')).toThrow(expect.objectContaining({ code: Code.InvalidArgument, message: 'unknown STDIO scheme tcp' }));
  });
});
