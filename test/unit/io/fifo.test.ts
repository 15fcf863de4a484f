import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, constants, readSync, rmSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeFd, holdFifoOpenForWrite, openFifoProbe, openFifoReader, openFifoWriter } from '../../../src/io/fifo.js';
import { bytesQueued } from '../../../src/sys/index.js';

let dir: string;
let fifo: string;
const sockets: Socket[] = [];
const fds: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-fifo-'));
  fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const fd of fds.splice(0)) closeFd(fd);
  rmSync(dir, { recursive: true, force: true });
});

const track = <T extends Socket | number>(x: T): T => {
  if (typeof x === 'number') fds.push(x);
  else sockets.push(x);
  return x;
};

function readAll(s: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

describe('openFifoWriter', () => {
  it('opens with no reader yet and keeps what is written for a reader that comes later', async () => {
    const writer = track(openFifoWriter(fifo));
    await new Promise<void>((resolve, reject) => writer.write('early bytes', (err) => (err ? reject(err) : resolve())));
    const reader = track(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    const buf = Buffer.alloc(64);
    expect(buf.toString('utf8', 0, readSync(reader, buf))).toBe('early bytes');
  });

  it('is not readable: the read side it holds is never consumed', () => {
    const writer = track(openFifoWriter(fifo));
    expect(writer.readable).toBe(false);
    expect(writer.writable).toBe(true);
  });
});

describe('openFifoProbe', () => {
  it('counts what the client has not taken, even after the writer closed, and is no writer itself', async () => {
    // The client opens its end first, as ctr does, and has not read yet.
    const client = track(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    const probe = track(openFifoProbe(fifo));
    const writer = openFifoWriter(fifo);
    await new Promise<void>((resolve, reject) => writer.write('12345', (err) => (err ? reject(err) : resolve())));
    writer.destroy();
    await new Promise((r) => writer.once('close', r));
    expect(bytesQueued(probe)).toBe(5);
    const buf = Buffer.alloc(64);
    expect(buf.toString('utf8', 0, readSync(client, buf))).toBe('12345');
    // End of file (0), not EAGAIN: the probe does not count as a writer.
    expect(readSync(client, buf)).toBe(0);
    expect(bytesQueued(probe)).toBe(0);
  });
});

describe('openFifoReader and holdFifoOpenForWrite', () => {
  it('the held write side keeps the reader from seeing end of file until it is released', async () => {
    const reader = track(openFifoReader(fifo));
    const hold = holdFifoOpenForWrite(fifo);
    const text = readAll(reader);
    const client = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    writeSync(client, 'typed input');
    closeSync(client);
    let ended = false;
    void text.then(() => (ended = true));
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    closeFd(hold);
    expect(await text).toBe('typed input');
  });

  it('opens without a writer and without blocking', () => {
    const reader = track(openFifoReader(fifo));
    expect(reader.readable).toBe(true);
    expect(reader.writable).toBe(false);
  });
});

describe('closeFd', () => {
  it('ignores no fd, a negative fd and an fd already closed', () => {
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    closeFd(fd);
    expect(() => fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => closeFd(fd)).not.toThrow();
    expect(() => closeFd(undefined)).not.toThrow();
    expect(() => closeFd(-1)).not.toThrow();
  });
});
