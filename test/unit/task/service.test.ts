import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure, Status, T, taskFixture, type TaskFixture } from './task-fixture.js';

let f: TaskFixture;
beforeEach(() => {
  f = taskFixture();
});
afterEach(() => f.cleanup());

describe('TaskService', () => {
  it('Create refuses an empty id and an id in use, with containerd errdefs texts', async () => {
    expect(await failure(f.service.create(T.CreateTaskRequest.create({ id: '', bundle: f.bundle })))).toBe('3: container id must not be empty: invalid argument');
    await f.create();
    expect(await failure(f.create())).toBe('6: container c1: already exists');
  });

  it('a failed runtime create becomes Unknown "OCI runtime create failed", and the id is free again', async () => {
    f.runtime.fail('create', new Error('no such file'));
    expect(await failure(f.create())).toBe('2: OCI runtime create failed: no such file');
    await f.create();
    expect(f.status()).toBe(Status.CREATED);
  });

  it('calls for an unknown task or process are NotFound', async () => {
    expect(await failure(f.service.start(T.StartRequest.create({ id: 'nope' })))).toBe('5: container not created: not found');
    await f.create();
    expect(await failure(f.service.start(T.StartRequest.create({ id: 'c1', execId: 'nope' })))).toBe('5: process does not exist nope: not found');
  });

  it('Exec needs an id and a JSON process spec; an exec id in use is AlreadyExists', async () => {
    await f.create();
    const exec = (execId: string, value: Buffer | undefined) =>
      failure((async () => f.service.exec(T.ExecProcessRequest.create({ id: 'c1', execId, spec: value ? { typeUrl: 'x', value } : undefined })))());
    expect(await exec('', Buffer.from('{}'))).toBe('3: exec id must not be empty: invalid argument');
    expect(await exec('e1', undefined)).toBe('3: exec process spec is missing: invalid argument');
    expect(await exec('e1', Buffer.from('{'))).toMatch(/^3: exec process spec is not valid JSON/);
    f.addExec('e1');
    expect(await exec('e1', Buffer.from('{}'))).toBe('6: id e1: already exists');
    expect(f.topics()).toEqual(['/tasks/create', '/tasks/exec-added']);
  });

  it('Shutdown is ignored while the shim holds a task', async () => {
    let shutdowns = 0;
    const g = taskFixture({ shutdown: () => void shutdowns++ });
    try {
      await g.create();
      g.service.shutdown();
      expect(shutdowns).toBe(0);
      await g.service.delete(T.DeleteRequest.create({ id: 'c1' }));
      g.service.shutdown();
      expect(shutdowns).toBe(1);
    } finally {
      g.cleanup();
    }
  });
});
