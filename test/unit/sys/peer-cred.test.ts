import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPipe, getPeerCred } from '../../../src/sys/index.js';

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
