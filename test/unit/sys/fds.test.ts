import { closeSync, fstatSync, mkdtempSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesQueued, createPipe, eventfd, getPeerCred } from '../../../src/sys/index.js';

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

describe('getPeerCred', () => {
  it('returns the pid, uid and gid at the other end of a connected unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-peercred-'));
    const server = createServer();
    try {
      const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
      await new Promise<void>((resolve) => server.listen(join(dir, 's.sock'), resolve));
      const client = connect(join(dir, 's.sock'));
      const socket = await accepted;
      const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
      expect(getPeerCred(fd)).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
      client.destroy();
      socket.destroy();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with ENOTSOCK on an fd that is not a socket', () => {
    const { readFd, writeFd } = createPipe();
    try {
      expect(() => getPeerCred(readFd)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }));
    } finally {
      closeSync(readFd);
      closeSync(writeFd);
    }
  });
});

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
