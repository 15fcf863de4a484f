import { createServer, connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPeerGone, socketSink } from '../../../src/ttrpc/frame-sink.js';

async function socketPair(dir: string): Promise<{ a: Socket; b: Socket; close: () => void }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(join(dir, 's.sock'), resolve));
  const a = connect(join(dir, 's.sock'));
  const b = await accepted;
  return { a, b, close: () => { a.destroy(); b.destroy(); server.close(); } };
}

const received = (s: Socket) => new Promise<Buffer>((resolve) => {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('end', () => resolve(Buffer.concat(chunks)));
});

describe('socketSink', () => {
  it('delivers frames written in one tick in order and flushes them on end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-sink-'));
    const { a, b, close } = await socketPair(dir);
    try {
      const got = received(b);
      const sink = socketSink(a);
      sink.write(Buffer.from('one|'));
      sink.write(Buffer.from('two|'));
      sink.write(Buffer.from('three'));
      sink.end();
      expect((await got).toString()).toBe('one|two|three');
    } finally {
      close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops writes after destroy instead of throwing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-sink-'));
    const { a, close } = await socketPair(dir);
    try {
      const sink = socketSink(a);
      sink.destroy();
      expect(() => sink.write(Buffer.from('late'))).not.toThrow();
      expect(sink.bufferedBytes).toBe(0);
    } finally {
      close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('isPeerGone', () => {
  it('counts reset, broken pipe and destroyed streams as the peer going away, nothing else', () => {
    for (const code of ['ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED']) expect(isPeerGone(Object.assign(new Error(code), { code }))).toBe(true);
    expect(isPeerGone(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(false);
    expect(isPeerGone(undefined)).toBe(false);
  });
});
