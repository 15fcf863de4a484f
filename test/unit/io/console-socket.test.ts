import { execFile } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { ConsoleSocket } from '../../../src/io/console-socket.js';

// What runc does with --console-socket: connect and send one fd with SCM_RIGHTS.
const SEND_FD = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
socket.send_fds(s, [b"/dev/null"], [os.open("/dev/null", os.O_RDONLY)])
s.close()
`;

let runtimeDir: string;
const savedXdg = process.env.XDG_RUNTIME_DIR;
beforeEach(() => {
  runtimeDir = mkdtempSync(join(tmpdir(), 'tsshim-console-'));
  process.env.XDG_RUNTIME_DIR = runtimeDir;
});
afterEach(() => {
  if (savedXdg === undefined) delete process.env.XDG_RUNTIME_DIR;
  else process.env.XDG_RUNTIME_DIR = savedXdg;
  rmSync(runtimeDir, { recursive: true, force: true });
});

describe('ConsoleSocket', () => {
  it('listens at pty<random>/pty.sock under $XDG_RUNTIME_DIR', async () => {
    const cs = await ConsoleSocket.listen();
    try {
      expect(dirname(dirname(cs.path))).toBe(runtimeDir);
      expect(cs.path).toMatch(/\/pty[^/]+\/pty\.sock$/);
      expect(statSync(cs.path).isSocket()).toBe(true);
    } finally {
      await cs.close();
    }
    expect(existsSync(dirname(cs.path))).toBe(false);
  });

  it('receives the fd a runtime sends and removes the socket afterwards', async () => {
    const cs = await ConsoleSocket.listen();
    const sent = new Promise<void>((resolve, reject) => execFile('python3', ['-c', SEND_FD, cs.path], (err) => (err ? reject(err) : resolve())));
    await sent;
    const fd = await cs.receiveMaster(60_000);
    try {
      expect(fstatSync(fd).rdev).toBe(statSync('/dev/null').rdev);
    } finally {
      closeSync(fd);
    }
    expect(existsSync(dirname(cs.path))).toBe(false);
  });

  it('fails when the runtime connects and closes without sending an fd', async () => {
    const cs = await ConsoleSocket.listen();
    const client = connect(cs.path);
    await new Promise((r) => client.once('connect', r));
    client.end();
    await expect(cs.receiveMaster(60_000)).rejects.toMatchObject({ code: 'ENOMSG' });
    expect(existsSync(dirname(cs.path))).toBe(false);
  });

  it('answers DeadlineExceeded when no runtime connects in time', async () => {
    const cs = await ConsoleSocket.listen();
    await expect(cs.receiveMaster(100)).rejects.toMatchObject({ code: Code.DeadlineExceeded, message: `the runtime did not connect to ${cs.path} within 100 ms` });
    expect(existsSync(dirname(cs.path))).toBe(false);
  });

  it('refuses to wait once closed', async () => {
    const cs = await ConsoleSocket.listen();
    await cs.close();
    await expect(cs.receiveMaster(60_000)).rejects.toThrow('console socket closed before the runtime connected');
  });
});
