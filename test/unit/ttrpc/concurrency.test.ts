import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TtrpcClient, TtrpcServer } from '../../../src/ttrpc/index.js';
import { bytesMethod, eventually, tempDir, type TempDir } from './helpers.js';

let dir: TempDir;
let server: TtrpcServer;
let client: TtrpcClient;
let gates: Map<string, () => void>;

beforeEach(async () => {
  dir = tempDir();
  gates = new Map();
  server = new TtrpcServer();
  server.register('test.Gate', {
    // Blocks until the test opens the gate named by the payload, then echoes it.
    Wait: bytesMethod((b) => new Promise<Uint8Array>((resolve) => gates.set(Buffer.from(b).toString(), () => resolve(b)))),
    State: bytesMethod((b) => b),
  });
  const path = dir.socket();
  await server.listen({ path });
  client = await TtrpcClient.connect(path);
});

afterEach(async () => {
  client.close();
  await server.shutdown({ graceMs: 0 });
  dir.remove();
});

describe('many calls in flight on one connection', () => {
  it('answers 1000 blocked calls, each with its own payload, released in reverse order', async () => {
    const n = 1000;
    const calls = Array.from({ length: n }, (_, i) => client.call('test.Gate', 'Wait', Buffer.from(`call-${i}`)));
    await eventually(() => gates.size === n, 'every handler to be running at once');
    for (let i = n - 1; i >= 0; i--) gates.get(`call-${i}`)!();
    const replies = await Promise.all(calls);
    replies.forEach((reply, i) => expect(Buffer.from(reply).toString()).toBe(`call-${i}`));
  });

  it('a fast call overtakes a blocked one on the same connection', async () => {
    const order: string[] = [];
    const wait = client.call('test.Gate', 'Wait', Buffer.from('wait')).then(() => order.push('Wait'));
    await eventually(() => gates.has('wait'), 'Wait to be running');
    const state = await client.call('test.Gate', 'State', Buffer.from('state'));
    order.push('State');
    expect(Buffer.from(state).toString()).toBe('state');
    gates.get('wait')!();
    await wait;
    expect(order).toEqual(['State', 'Wait']);
  });
});
