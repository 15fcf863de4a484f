import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerd } from '../../src/api/gen/proto.js';
import { toTimestamp } from '../../src/api/timestamp.js';
import { TtrpcClient } from '../../src/ttrpc/index.js';
import { busyboxImage, eventContainerId, skipUnlessRoot, startContainerd, uniqueId, type Containerd } from './harness/index.js';

const V2 = 'containerd.task.v2.Task';
const T = containerd.task.v2;

describe.skipIf(skipUnlessRoot())('our ttrpc client against real Go ttrpc peers', () => {
  let c: Containerd;
  let image: string;

  beforeAll(async () => {
    c = await startContainerd();
    image = await busyboxImage(c);
  });

  afterAll(async () => {
    await c?.stop();
  });

  it("calls containerd's Events/Forward and `ctr events` shows the event with its namespace, topic and payload", async () => {
    const events = c.events();
    await events.ready;
    const client = await TtrpcClient.connect(c.ttrpcAddress);
    try {
      const id = uniqueId('fwd');
      const req = containerd.services.events.ttrpc.v1.ForwardRequest.encode({
        envelope: {
          timestamp: toTimestamp(new Date()),
          namespace: c.namespace,
          topic: '/tasks/oom',
          event: { typeUrl: 'containerd.events.TaskOOM', value: containerd.events.TaskOOM.encode({ containerId: id }).finish() },
        },
      }).finish();
      const reply = await client.call('containerd.services.events.ttrpc.v1.Events', 'Forward', req, {
        timeoutMs: 5_000,
        metadata: [['containerd-namespace-ttrpc', c.namespace]],
      });
      expect(reply.length).toBe(0);
      const seen = await events.waitFor((e) => e.topic === '/tasks/oom' && eventContainerId(e) === id, 10_000);
      expect(seen.namespace).toBe(c.namespace);
      expect(seen.event).toEqual({ container_id: id });
    } finally {
      client.close();
      await events.stop();
    }
  });

  it("gets containerd's own InvalidArgument status for an envelope without a namespace", async () => {
    const client = await TtrpcClient.connect(c.ttrpcAddress);
    try {
      const req = containerd.services.events.ttrpc.v1.ForwardRequest.encode({
        envelope: { timestamp: toTimestamp(new Date()), topic: '/tasks/oom', event: { typeUrl: 'containerd.events.TaskOOM' } },
      }).finish();
      await expect(client.call('containerd.services.events.ttrpc.v1.Events', 'Forward', req, { timeoutMs: 5_000 })).rejects.toMatchObject({
        code: 3,
        message: expect.stringContaining('namespace'),
      });
    } finally {
      client.close();
    }
  });

  it('talks to the Go runc shim: Connect, State and Pids agree with ctr; an unknown id is NotFound', async () => {
    const id = uniqueId('goshim');
    expect((await c.ctr(['run', '-d', '--runtime', 'io.containerd.runc.v2', image, id, 'sh', '-c', 'sleep 1000 & wait'])).code).toBe(0);
    const bundle = join(c.dir, 'state', 'io.containerd.runtime.v2.task', c.namespace, id);
    const address = readFileSync(join(bundle, 'address'), 'utf8');
    const client = await TtrpcClient.connect(address.replace(/^unix:\/\//, ''));
    try {
      const ls = (await c.ctr(['task', 'ls'])).stdout.toString();
      const taskPid = Number(new RegExp(`^${id}\\s+(\\d+)\\s+RUNNING`, 'm').exec(ls)?.[1]);
      expect(taskPid).toBeGreaterThan(0);

      const conn = T.ConnectResponse.decode(await client.call(V2, 'Connect', T.ConnectRequest.encode({ id }).finish(), { timeoutMs: 5_000 }));
      expect(conn.taskPid).toBe(taskPid);
      expect(conn.shimPid).toBeGreaterThan(0);

      const state = T.StateResponse.decode(await client.call(V2, 'State', T.StateRequest.encode({ id }).finish(), { timeoutMs: 5_000 }));
      expect(state.id).toBe(id);
      expect(state.pid).toBe(taskPid);
      expect(state.status).toBe(containerd.v1.types.Status.RUNNING);
      expect(state.bundle).toBe(bundle);

      const ps = (await c.ctr(['task', 'ps', id])).stdout.toString();
      const ctrPids = ps.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).sort();
      const pids = T.PidsResponse.decode(await client.call(V2, 'Pids', T.PidsRequest.encode({ id }).finish(), { timeoutMs: 5_000 }));
      expect(pids.processes.map((p) => p.pid).sort()).toEqual(ctrPids);

      await expect(client.call(V2, 'State', T.StateRequest.encode({ id: 'no-such-task' }).finish(), { timeoutMs: 5_000 })).rejects.toMatchObject({
        code: 5,
        message: 'container not created: not found',
      });
      // The Go shim of containerd 1.6 serves only the v2 service name.
      await expect(client.call('containerd.task.v3.Task', 'State', T.StateRequest.encode({ id }).finish(), { timeoutMs: 5_000 })).rejects.toMatchObject({
        code: 12,
        message: 'service containerd.task.v3.Task',
      });
    } finally {
      client.close();
      await c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await new Promise((r) => setTimeout(r, 500));
      await c.ctr(['task', 'delete', id]);
      await c.ctr(['container', 'delete', id]);
    }
  });
});

