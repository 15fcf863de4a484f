import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import { EventPublisher } from '../../../src/events/publisher.js';
import { Code, StatusError, TtrpcServer, type CallContext } from '../../../src/ttrpc/index.js';

const logger = pino({ level: 'silent' });
const ForwardRequest = containerd.services.events.ttrpc.v1.ForwardRequest;

interface Received {
  topic: string;
  namespace: string;
  typeUrl: string;
  metadata: string[] | undefined;
}

function eventsServer(onForward?: (r: Received) => void): { server: TtrpcServer; received: Received[] } {
  const received: Received[] = [];
  const server = new TtrpcServer();
  server.register('containerd.services.events.ttrpc.v1.Events', {
    Forward: {
      decode: (b: Uint8Array) => ForwardRequest.decode(b),
      encode: () => new Uint8Array(0),
      handler: (req: containerd.services.events.ttrpc.v1.ForwardRequest, ctx: CallContext) => {
        const r = {
          topic: req.envelope?.topic ?? '',
          namespace: req.envelope?.namespace ?? '',
          typeUrl: req.envelope?.event?.typeUrl ?? '',
          metadata: ctx.metadata.get('containerd-namespace-ttrpc'),
        };
        onForward?.(r);
        received.push(r);
      },
    },
  });
  return { server, received };
}

describe('event publisher', () => {
  let dir: string;
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers events in publication order with the namespace in the envelope and the metadata', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pub-'));
    const sock = join(dir, 'c.sock');
    const { server, received } = eventsServer();
    await server.listen({ path: sock });
    cleanups.push(() => server.shutdown({ graceMs: 100 }));
    const pub = new EventPublisher({ address: `unix://${sock}`, namespace: 'ns1', logger });
    cleanups.push(() => pub.close());
    for (let i = 0; i < 50; i++) pub.publish(`/tasks/t${i}`, 'containerd.events.TaskStart', new Uint8Array([0x10, i]));
    expect(await pub.flush(5_000)).toBe(true);
    expect(received.map((r) => r.topic)).toEqual(Array.from({ length: 50 }, (_, i) => `/tasks/t${i}`));
    expect(received[0]).toMatchObject({ namespace: 'ns1', typeUrl: 'containerd.events.TaskStart', metadata: ['ns1'] });
  });

  it('keeps events while containerd is unreachable and delivers them, in order, once it is back', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pub-'));
    const sock = join(dir, 'c.sock');
    const pub = new EventPublisher({ address: sock, namespace: 'ns1', logger, backoffMs: 20, maxBackoffMs: 50 });
    cleanups.push(() => pub.close());
    pub.publish('/tasks/create', 'containerd.events.TaskCreate', new Uint8Array());
    pub.publish('/tasks/start', 'containerd.events.TaskStart', new Uint8Array());
    await new Promise((r) => setTimeout(r, 200));
    expect(pub.pending).toBe(2);
    const { server, received } = eventsServer();
    await server.listen({ path: sock });
    cleanups.push(() => server.shutdown({ graceMs: 100 }));
    pub.publish('/tasks/exit', 'containerd.events.TaskExit', new Uint8Array());
    expect(await pub.flush(5_000)).toBe(true);
    expect(received.map((r) => r.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit']);
  });

  it('drops an event containerd rejects as invalid and goes on with the next', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pub-'));
    const sock = join(dir, 'c.sock');
    const { server, received } = eventsServer((r) => {
      if (r.topic === 'bad') throw new StatusError(Code.InvalidArgument, 'envelope topic "bad": must start with \'/\'');
    });
    await server.listen({ path: sock });
    cleanups.push(() => server.shutdown({ graceMs: 100 }));
    const pub = new EventPublisher({ address: sock, namespace: 'ns1', logger });
    cleanups.push(() => pub.close());
    pub.publish('bad', 'x', new Uint8Array());
    pub.publish('/tasks/ok', 'x', new Uint8Array());
    expect(await pub.flush(5_000)).toBe(true);
    expect(received.map((r) => r.topic)).toEqual(['/tasks/ok']);
  });

  it('flush gives up after its bound when containerd never comes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pub-'));
    const pub = new EventPublisher({ address: join(dir, 'none.sock'), namespace: 'ns1', logger, backoffMs: 10 });
    cleanups.push(() => pub.close());
    pub.publish('/tasks/exit', 'x', new Uint8Array());
    expect(await pub.flush(200)).toBe(false);
    expect(pub.pending).toBe(1);
  });

  it('a flush delivers as soon as containerd answers again, however long the back-off has grown', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pub-'));
    const sock = join(dir, 'c.sock');
    // A back-off far beyond the flush bound: only retrying without it can deliver in time.
    const pub = new EventPublisher({ address: sock, namespace: 'ns1', logger, backoffMs: 120_000, maxBackoffMs: 120_000 });
    cleanups.push(() => pub.close());
    pub.publish('/tasks/exit', 'containerd.events.TaskExit', new Uint8Array());
    await new Promise((r) => setTimeout(r, 100));
    expect(pub.pending).toBe(1);
    const flushed = pub.flush(20_000);
    // containerd comes back only after the flush began and its first retry failed.
    await new Promise((r) => setTimeout(r, 300));
    expect(pub.pending).toBe(1);
    const { server, received } = eventsServer();
    await server.listen({ path: sock });
    cleanups.push(() => server.shutdown({ graceMs: 100 }));
    expect(await flushed).toBe(true);
    expect(received.map((r) => r.topic)).toEqual(['/tasks/exit']);
  });
});
