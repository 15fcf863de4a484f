import { closeSync, fstatSync, readFileSync, readSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesQueued, createPipe } from '../../../src/sys/index.js';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

function fdFlags(fd: number): number {
  return parseInt(/flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
}

describe('createPipe', () => {
  it('makes a real, blocking, close-on-exec pipe', () => {
    const { readFd, writeFd } = createPipe();
    try {
      for (const fd of [readFd, writeFd]) {
        expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
        expect(fdFlags(fd) & O_NONBLOCK).toBe(0);
      }
      expect(fstatSync(readFd).isFIFO()).toBe(true);
      writeSync(writeFd, 'through the pipe');
      const buf = Buffer.alloc(64);
      expect(buf.toString('utf8', 0, readSync(readFd, buf))).toBe('through the pipe');
    } finally {
      closeSync(readFd);
      closeSync(writeFd);
    }
  });
});

describe('bytesQueued', () => {
  it('counts what waits in a pipe, seen from either end, and falls as the reader takes it', () => {
    const { readFd, writeFd } = createPipe();
    try {
      expect(bytesQueued(readFd)).toBe(0);
      writeSync(writeFd, Buffer.alloc(10_000, 1));
      expect(bytesQueued(readFd)).toBe(10_000);
      expect(bytesQueued(writeFd)).toBe(10_000);
      readSync(readFd, Buffer.alloc(4_000));
      expect(bytesQueued(writeFd)).toBe(6_000);
    } finally {
      closeSync(readFd);
      closeSync(writeFd);
    }
  });

  it('throws with the errno name for a closed fd', () => {
    expect(() => bytesQueued(1_000_000)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'ioctl' }));
  });
});
