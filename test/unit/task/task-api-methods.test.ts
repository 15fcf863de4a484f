import { describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import type { TaskService } from '../../../src/task/service.js';
import { TASK_SERVICE_NAMES, taskMethods } from '../../../src/task/task-api-methods.js';

const T = containerd.task.v2;

describe('the Task API method table', () => {
  it('is served under the v2 and v3 names', () => {
    expect(TASK_SERVICE_NAMES).toEqual(['containerd.task.v2.Task', 'containerd.task.v3.Task']);
  });

  it('has every method of the Task service, each decoding its request and encoding its response', async () => {
    const calls: string[] = [];
    const service = new Proxy({}, {
      get: (_t, name: string) => (req: unknown) => {
        calls.push(name);
        if (name === 'state') return { id: (req as { id: string }).id, pid: 42 };
        return {};
      },
    }) as unknown as TaskService;
    const table = taskMethods(service);
    // protobufjs names the generated client's methods after the proto's, first letter lowered.
    const rpcs = Object.getOwnPropertyNames(T.Task.prototype).filter((k) => k !== 'constructor');
    expect(Object.keys(table).map((k) => k[0]!.toLowerCase() + k.slice(1)).sort()).toEqual(rpcs.sort());

    const state = table.State!;
    const req = state.decode(T.StateRequest.encode({ id: 'c1' }).finish());
    const res = await state.handler(req, { signal: new AbortController().signal, metadata: new Map() } as never);
    expect(T.StateResponse.decode(state.encode(res))).toMatchObject({ id: 'c1', pid: 42 });
    expect(table.Kill!.encode(undefined)).toEqual(new Uint8Array(0));
    expect(calls).toEqual(['state']);
  });
});
