import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ttrpc } from '../../../src/api/gen/proto.js';
import { type CallContext, Code, FrameDecoder, TtrpcClient, StatusError, TtrpcServer } from '../../../src/ttrpc/index.js';
import { bytesMethod, eventually, tempDir, type TempDir } from './helpers.js';

let dir: TempDir;

beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

/** A scripted server that records raw requests and replies only when told to. */
async function rawServer(path: string) {
  const requests: Array<{ streamId: number; req: ttrpc.Request }> = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      for (const item of decoder.push(chunk)) {
        if (item.kind === 'frame') requests.push({ streamId: item.streamId, req: ttrpc.Request.decode(item.data) });
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    requests,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('client', () => {
  it('numbers streams 1, 3, 5… and sends service, method, payload, metadata and timeout_nano', async () => {
    const path = dir.socket();
    const raw = await rawServer(path);
    const client = await TtrpcClient.connect(`unix://${path}`);
    void client.call('svc.A', 'M1', Buffer.from('p'), { timeoutMs: 1500, metadata: { 'Containerd-Namespace-Ttrpc': 'default' } }).catch(() => {});
    void client.call('svc.A', 'M2', new Uint8Array(0), { metadata: [['k', 'v1'], ['k', 'v2']] }).catch(() => {});
    void client.call('svc.A', 'M3', new Uint8Array(0)).catch(() => {});
    await eventually(() => raw.requests.length === 3, 'three requests');
    expect(raw.requests.map((r) => r.streamId)).toEqual([1, 3, 5]);
    const [first, second] = raw.requests;
    expect(first!.req).toMatchObject({ service: 'svc.A', method: 'M1' });
    expect(Buffer.from(first!.req.payload).toString()).toBe('p');
    expect(BigInt(first!.req.timeoutNano.toString())).toBe(1_500_000_000n);
    expect(first!.req.metadata).toEqual([expect.objectContaining({ key: 'containerd-namespace-ttrpc', value: 'default' })]);
    expect(second!.req.metadata.map((kv) => [kv.key, kv.value])).toEqual([
      ['k', 'v1'],
      ['k', 'v2'],
    ]);
    expect(second!.req.timeoutNano.toString()).toBe('0');
    client.close();
    await raw.close();
  });

  it('rejects with DeadlineExceeded at the deadline and drops the late reply silently', async () => {
    const path = dir.socket();
    const server = new TtrpcServer();
    let release!: () => void;
    const seen: CallContext[] = [];
    server.register('test.Slow', {
      Call: bytesMethod((b, ctx) => (seen.push(ctx), new Promise<Uint8Array>((r) => (release = () => r(b))))),
      Echo: bytesMethod((b) => b),
    });
    await server.listen({ path });
    const client = await TtrpcClient.connect(path);
    const err = await client.call('test.Slow', 'Call', Buffer.from('late'), { timeoutMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect(err.code).toBe(Code.DeadlineExceeded);
    release();
    expect(Buffer.from(await client.call('test.Slow', 'Echo', Buffer.from('next'))).toString()).toBe('next');
    expect(client.closed).toBe(false);
    expect(seen[0]!.deadline).toBeDefined();
    client.close();
    await server.shutdown({ graceMs: 0 });
  });

  it('rejects a zero, negative or NaN timeout at once without sending, and treats Infinity as none', async () => {
    const path = dir.socket();
    const raw = await rawServer(path);
    const client = await TtrpcClient.connect(path);
    for (const timeoutMs of [0, -5, Number.NaN]) {
      await expect(client.call('s', 'm', new Uint8Array(0), { timeoutMs })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    }
    void client.call('s', 'm', new Uint8Array(0), { timeoutMs: Infinity }).catch(() => {});
    await eventually(() => raw.requests.length === 1, 'the request');
    expect(raw.requests[0]!.streamId).toBe(1);
    expect(raw.requests[0]!.req.timeoutNano.toString()).toBe('0');
    client.close();
    await raw.close();
  });

  it('runs concurrent calls and matches each reply to its call', async () => {
    const path = dir.socket();
    const server = new TtrpcServer();
    server.register('test.Echo', {
      Echo: bytesMethod(async (b) => {
        await new Promise((r) => setTimeout(r, Math.random() * 10));
        return b;
      }),
    });
    await server.listen({ path });
    const client = await TtrpcClient.connect(path);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call('test.Echo', 'Echo', Buffer.from(String(i)))));
    expect(replies.map((r) => Buffer.from(r).toString())).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    client.close();
    await server.shutdown({ graceMs: 0 });
  });

  it('rejects every in-flight call with Unavailable when the server drops the connection', async () => {
    const path = dir.socket();
    const raw = await rawServer(path);
    const client = await TtrpcClient.connect(path);
    let closedSeen = false;
    client.onClose(() => (closedSeen = true));
    const calls = [1, 2, 3].map(() => client.call('svc.A', 'Wait', new Uint8Array(0)).catch((e) => e));
    await eventually(() => raw.requests.length === 3, 'the requests to arrive');
    raw.sockets[0]!.destroy();
    for (const err of await Promise.all(calls)) {
      expect(err).toBeInstanceOf(StatusError);
      expect(err.code).toBe(Code.Unavailable);
    }
    expect(client.closed).toBe(true);
    expect(closedSeen).toBe(true);
    await expect(client.call('svc.A', 'M', new Uint8Array(0))).rejects.toMatchObject({ code: Code.Unavailable });
    await raw.close();
  });

  it('surfaces a server status as StatusError and treats a status with code 0 as success', async () => {
    const path = dir.socket();
    const replies = new Map<number, Uint8Array>([
      [1, ttrpc.Response.encode({ status: { code: 5, message: 'nope' } }).finish()],
      [3, ttrpc.Response.encode({ status: { code: 0, message: '' }, payload: Buffer.from('ok') }).finish()],
    ]);
    const server = net.createServer((socket) => {
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const item of decoder.push(chunk)) {
          const body = Buffer.from(replies.get(item.streamId)!);
          const header = Buffer.alloc(10);
          header.writeUInt32BE(body.length, 0);
          header.writeUInt32BE(item.streamId, 4);
          header[8] = 2;
          socket.write(Buffer.concat([header, body]));
        }
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    const client = await TtrpcClient.connect(path);
    await expect(client.call('s', 'm', new Uint8Array(0))).rejects.toMatchObject({ code: 5, message: 'nope' });
    expect(Buffer.from(await client.call('s', 'm', new Uint8Array(0))).toString()).toBe('ok');
    client.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('gives up on a call when its signal aborts', async () => {
    const path = dir.socket();
    const raw = await rawServer(path);
    const client = await TtrpcClient.connect(path);
    const controller = new AbortController();
    const call = client.call('svc.A', 'Wait', new Uint8Array(0), { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: Code.Canceled });
    client.close();
    await raw.close();
  });

  it('fails to connect with Unavailable when nothing listens', async () => {
    await expect(TtrpcClient.connect(dir.socket('missing.sock'))).rejects.toMatchObject({ code: Code.Unavailable });
  });

  it('refuses to send a request over 4 MiB', async () => {
    const path = dir.socket();
    const raw = await rawServer(path);
    const client = await TtrpcClient.connect(path);
    await expect(client.call('s', 'm', new Uint8Array(4 << 20))).rejects.toMatchObject({ code: Code.ResourceExhausted });
    expect(raw.requests).toEqual([]);
    client.close();
    await raw.close();
  });
});
