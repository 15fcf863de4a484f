import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ttrpc } from '../../../src/api/gen/proto.js';
import {
  type CallContext,
  Code,
  Flag,
  MAX_MESSAGE,
  MessageType,
  StatusError,
  TtrpcServer,
  encodeFrame,
} from '../../../src/ttrpc/index.js';
import { RawPeer, bytesMethod, eventually, requestFrame, tempDir, type TempDir } from './helpers.js';

let dir: TempDir;
let server: TtrpcServer;
let path: string;
let held: Array<{ ctx: CallContext; release: () => void }>;
let seen: CallContext[];

beforeEach(async () => {
  dir = tempDir();
  path = dir.socket();
  held = [];
  seen = [];
  server = new TtrpcServer();
  const echo = {
    Echo: bytesMethod((b, ctx) => (seen.push(ctx), b)),
    Empty: bytesMethod(() => new Uint8Array(0)),
    NotFound: bytesMethod(() => {
      throw new StatusError(Code.NotFound, 'container not created: not found');
    }),
    Plain: bytesMethod(() => {
      throw new Error('boom');
    }),
    Enoent: bytesMethod(() => {
      throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    }),
    Strict: {
      decode: () => {
        throw new Error('invalid wire type 7');
      },
      encode: (b: Uint8Array) => b,
      handler: (b: Uint8Array) => b,
    },
    Huge: bytesMethod(() => new Uint8Array(MAX_MESSAGE)),
    Hold: bytesMethod(
      (b, ctx) =>
        new Promise<Uint8Array>((resolve, reject) => {
          held.push({ ctx, release: () => resolve(b) });
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    ),
  };
  server.register('test.Echo', echo);
  server.register('test.EchoAlias', echo);
  await server.listen({ path });
});

afterEach(async () => {
  await server.shutdown({ graceMs: 0 });
  dir.remove();
});

async function exchange(...frames: Buffer[]) {
  const peer = await RawPeer.connect(path);
  for (const f of frames) peer.write(f);
  return peer;
}

describe('server answers per spec §2.7', () => {
  it('echoes a payload on the request stream id with no status', async () => {
    const peer = await exchange(requestFrame(1, { service: 'test.Echo', method: 'Echo', payload: Buffer.from('hi') }));
    const res = await peer.response(1);
    expect(res).toEqual({ streamId: 1, code: 0, message: '', payload: Buffer.from('hi') });
    await peer.close();
  });

  it('serves the same service definition under two names', async () => {
    const peer = await exchange(requestFrame(1, { service: 'test.EchoAlias', method: 'Echo', payload: Buffer.from('v3') }));
    expect((await peer.response(1)).payload.toString()).toBe('v3');
    await peer.close();
  });

  it('answers an empty reply with a zero-length Response frame', async () => {
    const peer = await RawPeer.connect(path);
    const raw: Buffer[] = [];
    peer.socket.on('data', (c: Buffer) => raw.push(c));
    peer.write(requestFrame(7, { service: 'test.Echo', method: 'Empty' }));
    await peer.response(7);
    expect(Buffer.concat(raw)).toEqual(Buffer.from('00000000000000070200', 'hex'));
    await peer.close();
  });

  it.each([
    ['unknown service', { service: 'containerd.task.v3.Task', method: 'Create' }, Code.Unimplemented, 'service containerd.task.v3.Task'],
    ['unknown method', { service: 'test.Echo', method: 'Nope' }, Code.Unimplemented, 'method Nope'],
    ['inherited property name as method', { service: 'test.Echo', method: 'constructor' }, Code.Unimplemented, 'method constructor'],
    ['undecodable payload', { service: 'test.Echo', method: 'Strict' }, Code.Internal, 'ttrpc: error unmarshalling payload: invalid wire type 7'],
    ['handler StatusError', { service: 'test.Echo', method: 'NotFound' }, Code.NotFound, 'container not created: not found'],
    ['handler plain Error', { service: 'test.Echo', method: 'Plain' }, Code.Unknown, 'boom'],
    ['handler ENOENT', { service: 'test.Echo', method: 'Enoent' }, Code.NotFound, 'ENOENT: no such file'],
    ['reply over 4 MiB', { service: 'test.Echo', method: 'Huge' }, Code.ResourceExhausted, `message length ${MAX_MESSAGE + 5} exceed maximum message size of 4194304`],
  ])('%s → code %i', async (_name, req, code, message) => {
    const peer = await exchange(requestFrame(1, req));
    const res = await peer.response(1);
    expect(res).toMatchObject({ code, message });
    expect(res.payload.length).toBe(0);
    await peer.close();
  });

  it('rejects an even stream id with InvalidArgument', async () => {
    const peer = await exchange(requestFrame(2, { service: 'test.Echo', method: 'Echo' }));
    expect(await peer.response(2)).toMatchObject({ code: 3, message: 'StreamID must be odd for client initiated streams' });
    await peer.close();
  });

  it('rejects a reused or decreasing stream id and keeps serving higher ids', async () => {
    const req = { service: 'test.Echo', method: 'Echo', payload: Buffer.from('x') };
    const peer = await exchange(requestFrame(5, req), requestFrame(5, req), requestFrame(3, req), requestFrame(7, req));
    const responses = await peer.waitFor(4);
    expect(responses.map((r) => [r.streamId, r.code])).toEqual(
      expect.arrayContaining([
        [5, 0],
        [5, 3],
        [3, 3],
        [7, 0],
      ]),
    );
    expect(responses.find((r) => r.code === 3)?.message).toBe('StreamID cannot be re-used and must increment');
    await peer.close();
  });

  it('rejects Request data that is not a ttrpc.Request', async () => {
    const peer = await exchange(encodeFrame(1, MessageType.Request, 0, Buffer.from([0x0a, 0x05, 0x61])));
    const res = await peer.response(1);
    expect(res.code).toBe(3);
    expect(res.message).toMatch(/^unmarshal request error: /);
    await peer.close();
  });

  it('discards an oversize frame, answers ResourceExhausted on its id, and keeps the connection', async () => {
    const length = MAX_MESSAGE + 1;
    const header = Buffer.alloc(10);
    header.writeUInt32BE(length, 0);
    header.writeUInt32BE(9, 4);
    header[8] = MessageType.Request;
    const peer = await exchange(header, Buffer.alloc(length, 0xff), requestFrame(11, { service: 'test.Echo', method: 'Echo', payload: Buffer.from('after') }));
    expect(await peer.response(9)).toMatchObject({ code: 8, message: 'message length 4194305 exceed maximum message size of 4194304' });
    expect((await peer.response(11)).payload.toString()).toBe('after');
    await peer.close();
  });

  it('passes metadata (keys lower-cased, repeated keys kept) and the deadline to the handler', async () => {
    const before = Date.now();
    const peer = await exchange(
      requestFrame(1, {
        service: 'test.Echo',
        method: 'Echo',
        timeoutNano: 2_000_000_000,
        metadata: [
          { key: 'containerd-namespace-ttrpc', value: 'default' },
          { key: 'X-Trace', value: 'a' },
          { key: 'x-trace', value: 'b' },
        ],
      }),
    );
    await peer.response(1);
    const ctx = seen[0]!;
    expect(ctx.service).toBe('test.Echo');
    expect(ctx.method).toBe('Echo');
    expect([...ctx.metadata]).toEqual([
      ['containerd-namespace-ttrpc', ['default']],
      ['x-trace', ['a', 'b']],
    ]);
    expect(ctx.deadline).toBeGreaterThanOrEqual(before + 2000);
    expect(ctx.deadline).toBeLessThanOrEqual(Date.now() + 2000);
    await peer.close();
  });

  it('aborts the handler signal at the deadline so it can answer DeadlineExceeded', async () => {
    const peer = await exchange(requestFrame(1, { service: 'test.Echo', method: 'Hold', timeoutNano: 30_000_000 }));
    const res = await peer.response(1);
    expect(res).toMatchObject({ code: Code.DeadlineExceeded, message: 'context deadline exceeded' });
    await peer.close();
  });

  it('aborts running handlers when the client disconnects and returns to zero connections', async () => {
    const peer = await exchange(requestFrame(1, { service: 'test.Echo', method: 'Hold' }));
    await eventually(() => held.length === 1, 'the handler to start');
    expect(server.connectionCount).toBe(1);
    await peer.close();
    await eventually(() => held[0]!.ctx.signal.aborted, 'the abort');
    expect((held[0]!.ctx.signal.reason as StatusError).code).toBe(Code.Canceled);
    await eventually(() => server.connectionCount === 0, 'the connection to be forgotten');
  });

  it('closes quietly on EOF (half-close) from the client', async () => {
    const errors: unknown[] = [];
    const quiet = new TtrpcServer({ onError: (e) => errors.push(e) });
    const p = dir.socket();
    await quiet.listen({ path: p });
    const peer = await RawPeer.connect(p);
    peer.socket.end();
    await eventually(() => peer.closed, 'the server to close the connection');
    expect(quiet.connectionCount).toBe(0);
    expect(errors).toEqual([]);
    await quiet.shutdown({ graceMs: 0 });
  });

  it('treats request flags of a unary method as a plain unary call', async () => {
    const peer = await exchange(
      requestFrame(1, { service: 'test.Echo', method: 'Echo', payload: Buffer.from('a') }, Flag.RemoteClosed),
      requestFrame(3, { service: 'test.Echo', method: 'Echo', payload: Buffer.from('b') }, Flag.RemoteOpen),
    );
    expect((await peer.response(1)).payload.toString()).toBe('a');
    expect((await peer.response(3)).payload.toString()).toBe('b');
    await peer.close();
  });

  it('ignores Response frames and unknown message types from a client', async () => {
    const peer = await exchange(
      encodeFrame(1, MessageType.Response, 0, ttrpc.Response.encode({}).finish()),
      encodeFrame(3, 0x7f, 0, Buffer.from('future')),
      requestFrame(5, { service: 'test.Echo', method: 'Echo', payload: Buffer.from('ok') }),
    );
    expect((await peer.response(5)).payload.toString()).toBe('ok');
    expect(peer.responses).toHaveLength(1);
    await peer.close();
  });
});

describe('Data frames (ttrpc 1.2 streaming) against unary methods', () => {
  it('answers a Data frame for an unknown stream with "StreamID is no longer active"', async () => {
    const peer = await exchange(encodeFrame(5, MessageType.Data, 0, Buffer.from('x')));
    expect(await peer.response(5)).toMatchObject({ code: 3, message: 'StreamID is no longer active' });
    await peer.close();
  });

  it('answers a close Data frame carrying data with "data close message cannot include data" and ends the call', async () => {
    const peer = await exchange(
      requestFrame(1, { service: 'test.Echo', method: 'Hold' }),
      encodeFrame(1, MessageType.Data, Flag.RemoteClosed, Buffer.from('x')),
    );
    expect(await peer.response(1)).toMatchObject({ code: 3, message: 'data close message cannot include data' });
    await eventually(() => held[0]?.ctx.signal.aborted === true, 'the handler to be told');
    held[0]!.release();
    peer.write(encodeFrame(1, MessageType.Data, Flag.RemoteClosed | Flag.NoData, Buffer.alloc(0)));
    await peer.waitFor(2);
    expect(peer.responses[1]).toMatchObject({ streamId: 1, code: 3, message: 'StreamID is no longer active' });
    await peer.close();
  });

  it('accepts a no-data close frame on a running unary call and still delivers its reply', async () => {
    const peer = await exchange(
      requestFrame(1, { service: 'test.Echo', method: 'Hold', payload: Buffer.from('r') }),
      encodeFrame(1, MessageType.Data, Flag.RemoteClosed | Flag.NoData, Buffer.alloc(0)),
    );
    await eventually(() => held.length === 1, 'the handler to start');
    held[0]!.release();
    const res = await peer.response(1);
    expect(res).toMatchObject({ code: 0, payload: Buffer.from('r') });
    expect(peer.responses).toHaveLength(1);
    await peer.close();
  });

  it('answers a message Data frame on a unary call with InvalidArgument', async () => {
    const peer = await exchange(
      requestFrame(1, { service: 'test.Echo', method: 'Hold' }),
      encodeFrame(1, MessageType.Data, 0, Buffer.alloc(0)),
    );
    expect(await peer.response(1)).toMatchObject({ code: 3, message: 'data handling error: ttrpc: stream closed' });
    await peer.close();
  });
});

describe('server lifecycle', () => {
  it('closes connections the authorize hook refuses, before reading a byte', async () => {
    const refusing = new TtrpcServer({ authorize: () => false });
    refusing.register('test.Echo', { Echo: bytesMethod((b) => b) });
    const p = dir.socket();
    await refusing.listen({ path: p });
    const peer = await RawPeer.connect(p);
    peer.write(requestFrame(1, { service: 'test.Echo', method: 'Echo' }));
    await eventually(() => peer.closed, 'the refused connection to close');
    expect(peer.responses).toEqual([]);
    expect(refusing.connectionCount).toBe(0);
    await refusing.shutdown({ graceMs: 0 });
  });

  it('shutdown lets an in-flight call answer, refuses new requests, then closes', async () => {
    const peer = await exchange(requestFrame(1, { service: 'test.Echo', method: 'Hold', payload: Buffer.from('w') }));
    await eventually(() => held.length === 1, 'the handler to start');
    const done = server.shutdown({ graceMs: 10_000 });
    peer.write(requestFrame(3, { service: 'test.Echo', method: 'Echo' }));
    expect(await peer.response(3)).toMatchObject({ code: Code.Unavailable, message: 'ttrpc: server closed' });
    held[0]!.release();
    expect(await peer.response(1)).toMatchObject({ code: 0, payload: Buffer.from('w') });
    await eventually(() => peer.closed, 'the drained connection to close');
    await done;
    expect(server.connectionCount).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('shutdown destroys connections still busy after the grace period', async () => {
    const peer = await exchange(requestFrame(1, { service: 'test.Echo', method: 'Hold' }));
    await eventually(() => held.length === 1, 'the handler to start');
    await server.shutdown({ graceMs: 20 });
    expect(held[0]!.ctx.signal.aborted).toBe(true);
    await eventually(() => peer.closed, 'the connection to close');
    expect(peer.responses).toEqual([]);
    expect(server.connectionCount).toBe(0);
  });

  it('refuses to register a service name twice', () => {
    expect(() => server.register('test.Echo', {})).toThrow('duplicate service test.Echo registered');
  });
});
