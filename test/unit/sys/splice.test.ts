import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipe, spliceCopy } from '../../../src/sys/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsshim-splice-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fifos = 0;

/** A FIFO with our write end (O_RDWR, as the shim opens containerd's) and a reader socket. */
function fifo(): { writeFd: number; reader: () => net.Socket } {
  const path = join(dir, `f${fifos++}`);
  execFileSync('mkfifo', [path]);
  const writeFd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  return { writeFd, reader: () => new net.Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false }) };
}

function collect(s: net.Socket, until: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  return new Promise((resolve) =>
    s.on('data', (b: Buffer) => {
      chunks.push(b);
      n += b.length;
      if (n >= until) resolve(Buffer.concat(chunks));
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fdOpen = (fd: number) => existsSync(`/proc/self/fd/${fd}`);

describe('spliceCopy', () => {
  it('moves every byte from a pipe to a FIFO, in order, and ends at the end of file', async () => {
    const src = createPipe();
    const dst = fifo();
    const ended = new Promise<[Error | null, number]>((resolve) => spliceCopy(src.readFd, dst.writeFd, (err, n) => resolve([err, n])));
    const data = randomBytes(8 << 20);
    const reader = dst.reader();
    const got = collect(reader, data.length);
    const writer = new net.Socket({ fd: src.writeFd, readable: false, writable: true });
    writer.end(data);
    expect((await got).equals(data)).toBe(true);
    expect(await ended).toEqual([null, data.length]);
    reader.destroy();
  });

  it('stops while the reader takes nothing, so the writer blocks, and resumes when it reads', async () => {
    const src = createPipe();
    const dst = fifo();
    let end: [Error | null, number] | undefined;
    const copy = spliceCopy(src.readFd, dst.writeFd, (err, n) => (end = [err, n]));
    const writer = new net.Socket({ fd: src.writeFd, readable: false, writable: true });
    const data = randomBytes(1 << 20);
    writer.end(data);
    await sleep(200);
    // Two pipes of 64 KiB between the writer and nobody: the rest waits in the writer.
    expect(copy.bytes).toBeLessThanOrEqual(64 << 10);
    expect(copy.queued).toBeGreaterThan(0);
    expect(writer.writableLength).toBeGreaterThan(0);
    expect(end).toBeUndefined();
    const reader = dst.reader();
    expect((await collect(reader, data.length)).equals(data)).toBe(true);
    await expect.poll(() => end).toEqual([null, data.length]);
    expect(copy.ended).toBe(true);
    expect(copy.bytes).toBe(data.length);
    expect(copy.queued).toBe(0);
    reader.destroy();
  });

  it('closes both fds when it ends, and when closed before its end (without calling back)', async () => {
    const a = createPipe();
    const b = createPipe();
    await new Promise<void>((resolve) => {
      spliceCopy(a.readFd, b.writeFd, () => resolve());
      new net.Socket({ fd: a.writeFd, readable: false, writable: true }).end('x');
    });
    await sleep(10);
    expect([fdOpen(a.readFd), fdOpen(b.writeFd)]).toEqual([false, false]);
    new net.Socket({ fd: b.readFd, readable: true, writable: false }).destroy();

    const c = createPipe();
    const d = createPipe();
    let called = false;
    const copy = spliceCopy(c.readFd, d.writeFd, () => (called = true));
    copy.close();
    await sleep(10);
    expect([fdOpen(c.readFd), fdOpen(d.writeFd), copy.ended, called]).toEqual([false, false, true, false]);
    new net.Socket({ fd: c.writeFd, readable: false, writable: true }).destroy();
    new net.Socket({ fd: d.readFd, readable: true, writable: false }).destroy();
  });

  it('reports a destination it cannot write as the error of the copy', async () => {
    const src = createPipe();
    const other = createPipe();
    const ended = new Promise<[Error | null, number]>((resolve) => spliceCopy(src.readFd, other.readFd, (err, n) => resolve([err, n])));
    new net.Socket({ fd: src.writeFd, readable: false, writable: true }).end('data');
    const [err, n] = await ended;
    expect(err).toMatchObject({ code: 'EBADF', syscall: 'splice' });
    expect(n).toBe(0);
    new net.Socket({ fd: other.writeFd, readable: false, writable: true }).destroy();
  });
});
