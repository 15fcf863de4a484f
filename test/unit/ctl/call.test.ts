import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { call } from '../../../src/ctl/call.js';
import { startTaskServer } from './task-server.js';

const V2 = 'containerd.task.v2.Task';
const V3 = 'containerd.task.v3.Task';

let stdout: string;
let stderr: string;
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('call', () => {
  it('sends a snake_case JSON request and prints the response as JSON, trying v3 first and then v2', async () => {
    const srv = await startTaskServer([V2]);
    try {
      const code = await call({ socket: srv.socket, namespace: 'ns1', method: 'State', json: '{"id":"c1","exec_id":"e1"}' });
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ id: 'c1', execId: 'e1', pid: 42, status: 2, bundle: '/b' });
      expect(srv.seen.map((c) => [c.service, c.namespace])).toEqual([[V2, ['ns1']]]);
      expect(srv.seen[0]!.request).toMatchObject({ id: 'c1', execId: 'e1' });
    } finally {
      await srv.close();
    }
  });

  it('calls exactly the service named in service/method', async () => {
    const srv = await startTaskServer([V2, V3]);
    try {
      expect(await call({ socket: srv.socket, namespace: 'ns1', method: `${V2}/State`, json: '{"id":"c1"}' })).toBe(0);
      expect(srv.seen.map((c) => c.service)).toEqual([V2]);
    } finally {
      await srv.close();
    }
  });

  it('prints the status of a failed call on stderr and gives exit code 1', async () => {
    const srv = await startTaskServer([V3]);
    try {
      expect(await call({ socket: srv.socket, namespace: 'ns1', method: 'Kill', json: '{"id":"c1","exec_id":"e2","signal":15}' })).toBe(1);
      expect(JSON.parse(stderr)).toEqual({ code: Code.NotFound, codeName: 'NotFound', message: 'process e2: not found' });
      expect(stdout).toBe('');
    } finally {
      await srv.close();
    }
  });

  it('refuses a request that is not JSON and an unknown method before connecting', async () => {
    await expect(call({ socket: '/nonexistent.sock', namespace: 'ns1', method: 'State', json: '{id' })).rejects.toThrow(/^request is not valid JSON: /);
    await expect(call({ socket: '/nonexistent.sock', namespace: 'ns1', method: 'Nope' })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
