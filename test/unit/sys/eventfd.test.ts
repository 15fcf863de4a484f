import { closeSync, readFileSync, readSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventfd } from '../../../src/sys/index.js';

const O_CLOEXEC = 0o2000000;

function fdFlags(fd: number): number {
  return parseInt(/flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
}

describe('eventfd', () => {
  it('returns a close-on-exec counter that adds up what is written to it', () => {
    const fd = eventfd();
    try {
      expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(1n);
      writeSync(fd, one);
      writeSync(fd, one);
      const out = Buffer.alloc(8);
      readSync(fd, out);
      expect(out.readBigUInt64LE()).toBe(2n);
    } finally {
      closeSync(fd);
    }
  });
});
