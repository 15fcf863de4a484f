import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TtrpcClient, TtrpcServer } from '../../../src/ttrpc/index.js';
import { RawPeer, bytesMethod, eventually, requestFrame, tempDir, type TempDir } from './helpers.js';

let dir: TempDir;
let server: TtrpcServer;
let path: string;
const errors: unknown[] = [];

const REPLY = 256 * 1024;

beforeEach(async () => {
  dir = tempDir();
  path = dir.socket();
  errors.length = 0;
  server = new TtrpcServer({ onError: (e) => errors.push(e) });
  server.register('test.Big', {
    // The reply size comes from the request so the test decides how much is queued.
    Blob: bytesMethod((b) => Buffer.alloc(Buffer.from(b).readUInt32BE(0), 0xab)),
    Echo: bytesMethod((b) => b),
  });
  await server.listen({ path });
});

afterEach(async () => {
  await server.shutdown({ graceMs: 0 });
  dir.remove();
});

const size = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('back-pressure (ttrpc#72)', () => {
  it('a peer that stops reading neither blocks other connections nor deadlocks once it reads again', async () => {
    const stalled = await RawPeer.connect(path);
    stalled.socket.pause();
    const calls = 120; // 30 MiB of replies, far above the socket buffers
    for (let i = 0; i < calls; i++) {
      stalled.write(requestFrame(2 * i + 1, { service: 'test.Big', method: 'Blob', payload: size(REPLY) }));
    }
    // The server keeps reading the stalled connection: a request sent after the big ones is
    // still dispatched (its handler runs) although none of the earlier replies were read.
    let lastSeen = false;
    server.register('test.Probe', { Mark: bytesMethod((b) => ((lastSeen = true), b)) });
    stalled.write(requestFrame(2 * calls + 1, { service: 'test.Probe', method: 'Mark', payload: Buffer.from('m') }));
    await eventually(() => lastSeen, 'the request behind the unread replies to be handled');

    const other = await TtrpcClient.connect(path);
    for (let i = 0; i < 20; i++) {
      expect(Buffer.from(await other.call('test.Big', 'Echo', Buffer.from(`x${i}`))).toString()).toBe(`x${i}`);
    }
    other.close();

    stalled.socket.resume();
    const responses = await stalled.waitFor(calls + 1);
    expect(responses).toHaveLength(calls + 1);
    expect(responses.filter((r) => r.code === 0 && r.payload.length === REPLY)).toHaveLength(calls);
    expect(new Set(responses.map((r) => r.streamId)).size).toBe(calls + 1);
    await stalled.close();
    await eventually(() => server.connectionCount === 0, 'both connections to be forgotten');
    expect(errors).toEqual([]);
  });

  it('closes a connection whose unread replies exceed the per-connection budget, and only that one', async () => {
    const strict = new TtrpcServer({ maxBufferedBytesPerConnection: 4 << 20, onError: (e) => errors.push(e) });
    strict.register('test.Big', { Blob: bytesMethod((b) => Buffer.alloc(Buffer.from(b).readUInt32BE(0))), Echo: bytesMethod((b) => b) });
    const p = dir.socket();
    await strict.listen({ path: p });
    const healthy = await TtrpcClient.connect(p);
    const stalled = await RawPeer.connect(p);
    stalled.socket.pause();
    for (let i = 0; i < 64; i++) stalled.write(requestFrame(2 * i + 1, { service: 'test.Big', method: 'Blob', payload: size(REPLY) }));
    await eventually(() => errors.length > 0, 'the budget to be exceeded');
    expect(String(errors[0])).toMatch(/unread/);
    stalled.socket.resume();
    await eventually(() => stalled.closed, 'the stalled connection to be closed');
    expect(Buffer.from(await healthy.call('test.Big', 'Echo', Buffer.from('alive'))).toString()).toBe('alive');
    healthy.close();
    await strict.shutdown({ graceMs: 0 });
  });

  it('answers ResourceExhausted past the in-flight cap instead of queueing without bound', async () => {
    const capped = new TtrpcServer({ maxInFlightPerConnection: 2 });
    const release: Array<() => void> = [];
    capped.register('test.Gate', { Wait: bytesMethod((b) => new Promise<Uint8Array>((r) => release.push(() => r(b)))) });
    const p = dir.socket();
    await capped.listen({ path: p });
    const client = await TtrpcClient.connect(p);
    const a = client.call('test.Gate', 'Wait', Buffer.from('a'));
    const b = client.call('test.Gate', 'Wait', Buffer.from('b'));
    await expect(client.call('test.Gate', 'Wait', Buffer.from('c'))).rejects.toMatchObject({ code: 8 });
    await eventually(() => release.length === 2, 'the two admitted calls to run');
    release.forEach((r) => r());
    await Promise.all([a, b]);
    const d = client.call('test.Gate', 'Wait', Buffer.from('d'));
    await eventually(() => release.length === 3, 'a freed slot to be reused');
    release[2]!();
    expect(Buffer.from(await d).toString()).toBe('d');
    client.close();
    await capped.shutdown({ graceMs: 0 });
  });
});
