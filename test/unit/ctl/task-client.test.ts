import { describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { TaskClient } from '../../../src/ctl/task-client.js';
import { startTaskServer } from './task-server.js';

const V2 = 'containerd.task.v2.Task';
const V3 = 'containerd.task.v3.Task';

describe('TaskClient', () => {
  it('calls containerd.task.v3.Task for version 3 and sends the namespace', async () => {
    const srv = await startTaskServer([V3]);
    const client = await TaskClient.connect(srv.socket, 3, 'ns1');
    try {
      expect(await client.call('State', { id: 'c1' })).toMatchObject({ id: 'c1', pid: 42, bundle: '/b' });
      expect(srv.seen.map((c) => [c.service, c.method, c.namespace])).toEqual([[V3, 'State', ['ns1']]]);
    } finally {
      client.close();
      await srv.close();
    }
  });

  it('falls back to v2, once, when the shim has no v3 service', async () => {
    const srv = await startTaskServer([V2]);
    const client = await TaskClient.connect(srv.socket, 3, 'ns1');
    try {
      await client.call('State', { id: 'a' });
      await client.call('State', { id: 'b' });
      expect(srv.seen.map((c) => c.service)).toEqual([V2, V2]);
    } finally {
      client.close();
      await srv.close();
    }
  });

  it('uses v2 for version 2 and passes on the status of a failed call', async () => {
    const srv = await startTaskServer([V2, V3]);
    const client = await TaskClient.connect(srv.socket, 2, 'ns1');
    try {
      await expect(client.call('Kill', { id: 'c1', execId: 'e9', signal: 9 })).rejects.toMatchObject({ code: Code.NotFound, message: 'process e9: not found' });
      expect(srv.seen.map((c) => c.service)).toEqual([V2]);
    } finally {
      client.close();
      await srv.close();
    }
  });

  it('refuses a method the Task API does not have, naming the ones it has', async () => {
    const srv = await startTaskServer([V2]);
    const client = await TaskClient.connect(srv.socket, 2, 'ns1');
    try {
      await expect(client.call('Frobnicate', {})).rejects.toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/^unknown Task API method Frobnicate \(one of: State, Create, /) });
      expect(srv.seen).toEqual([]);
    } finally {
      client.close();
      await srv.close();
    }
  });
});
