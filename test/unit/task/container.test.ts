// Every "exit while another operation is in flight" case of the task layer, driven through the
// Task service against a runtime that holds its calls on command.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure, settle, Status, T, taskFixture, type TaskFixture } from './task-fixture.js';

let f: TaskFixture;
beforeEach(() => {
  f = taskFixture();
});
afterEach(() => f.cleanup());

const start = (execId = '') => f.service.start(T.StartRequest.create({ id: 'c1', execId }));
const del = (execId = '') => f.service.delete(T.DeleteRequest.create({ id: 'c1', execId }));
const wait = (execId = '') => f.service.wait(T.WaitRequest.create({ id: 'c1', execId }), new AbortController().signal);

async function running(): Promise<number> {
  const pid = await f.create();
  await start();
  return pid;
}

describe('the init exits while an exec is being started (containerd issue 10589)', () => {
  it('reports the init exit once the starting exec fails, refuses a second exec, and Delete works', async () => {
    const pid = await running();
    f.addExec('exec1');
    const gate = f.runtime.hold('exec');
    const exec1 = failure(start('exec1'));
    await gate.entered;

    f.exit(pid, 137);
    f.addExec('exec2');
    expect(await failure(start('exec2'))).toBe('9: container c1 init process is not running: failed precondition');
    gate.release(new Error('cannot exec in a stopped container'));
    expect(await exec1).toBe('2: OCI runtime exec failed: cannot exec in a stopped container');

    expect((await wait()).exitStatus).toBe(137);
    expect(f.status()).toBe(Status.STOPPED);
    expect(f.status('exec1')).toBe(Status.CREATED);
    expect(f.status('exec2')).toBe(Status.CREATED);
    expect(f.exits().map((e) => [e.id, e.exitStatus])).toEqual([['c1', 137]]);

    const deleted = await del();
    expect(deleted.exitStatus).toBe(137);
    expect(f.topics().filter((t) => t === '/tasks/delete')).toHaveLength(1);
  });

  it('when the starting exec succeeds after all, its exit is reported before the init exit', async () => {
    const pid = await running();
    f.addExec('exec1');
    const gate = f.runtime.hold('exec');
    const exec1 = start('exec1');
    await gate.entered;
    f.exit(pid, 137);
    gate.release();
    const execPid = (await exec1).pid!;
    expect(f.status()).toBe(Status.RUNNING);
    f.exit(execPid, 137);
    expect((await wait()).exitStatus).toBe(137);
    expect(f.exits().map((e) => e.id)).toEqual(['exec1', 'c1']);
    expect(f.topics().indexOf('/tasks/exec-started')).toBeLessThan(f.topics().indexOf('/tasks/exit'));
  });
});

describe('an exit during Start', () => {
  it('is reported after /tasks/start when the start succeeds', async () => {
    const pid = await f.create();
    const gate = f.runtime.hold('start');
    const started = start();
    await gate.entered;
    f.exit(pid, 3);
    expect(f.status()).toBe(Status.CREATED);
    gate.release();
    expect(await started).toEqual({ pid });
    expect((await wait()).exitStatus).toBe(3);
    expect(f.topics()).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit']);
  });

  it('is reported when the start fails, and the task is stopped', async () => {
    const pid = await f.create();
    const gate = f.runtime.hold('start');
    const started = failure(start());
    await gate.entered;
    f.exit(pid, 137);
    gate.release(new Error('boom'));
    expect(await started).toBe('2: OCI runtime start failed: boom');
    expect((await wait()).exitStatus).toBe(137);
    expect(f.status()).toBe(Status.STOPPED);
    expect(f.topics()).toEqual(['/tasks/create', '/tasks/exit']);
  });

  it('a second Start and a Delete while the start is in flight are refused', async () => {
    await f.create();
    const gate = f.runtime.hold('start');
    const started = start();
    await gate.entered;
    expect(await failure(start())).toBe('2: cannot start a running process');
    expect(await failure(del())).toBe('2: cannot delete a running process');
    gate.release();
    await started;
    expect(f.runtime.count('start')).toBe(1);
    expect(f.status()).toBe(Status.RUNNING);
  });
});

describe('an exit during Pause or Resume', () => {
  it('Pause: no /tasks/paused after the exit, and the task ends stopped', async () => {
    const pid = await running();
    const gate = f.runtime.hold('pause');
    const paused = f.service.pause(T.PauseRequest.create({ id: 'c1' }));
    await gate.entered;
    expect(f.status()).toBe(Status.PAUSING);
    f.exit(pid, 137);
    gate.release();
    await paused;
    expect((await wait()).exitStatus).toBe(137);
    expect(f.status()).toBe(Status.STOPPED);
    expect(f.topics()).not.toContain('/tasks/paused');
  });

  it('Pause that fails because the init exited leaves the task stopped, not running', async () => {
    const pid = await running();
    const gate = f.runtime.hold('pause');
    const paused = failure(f.service.pause(T.PauseRequest.create({ id: 'c1' })));
    await gate.entered;
    f.exit(pid, 137);
    gate.release(new Error('container not running'));
    expect(await paused).toBe('2: OCI runtime pause failed: container not running');
    await wait();
    expect(f.status()).toBe(Status.STOPPED);
  });

  it('Resume: no /tasks/resumed after the exit, and the task ends stopped', async () => {
    const pid = await running();
    await f.service.pause(T.PauseRequest.create({ id: 'c1' }));
    const gate = f.runtime.hold('resume');
    const resumed = f.service.resume(T.ResumeRequest.create({ id: 'c1' }));
    await gate.entered;
    expect(await failure(f.service.resume(T.ResumeRequest.create({ id: 'c1' })))).toBe('2: cannot resume a resuming container');
    f.exit(pid, 137);
    gate.release();
    await resumed;
    expect((await wait()).exitStatus).toBe(137);
    expect(f.status()).toBe(Status.STOPPED);
    expect(f.topics()).not.toContain('/tasks/resumed');
    expect(f.runtime.count('resume')).toBe(1);
  });
});

describe('an exit during Exec Start', () => {
  it("the exec's own exit, reaped before runc exec returns, follows /tasks/exec-started", async () => {
    await running();
    f.addExec('e1');
    const gate = f.runtime.hold('exec');
    const started = start('e1');
    await gate.entered;
    await settle();
    f.exit(f.runtime.pids.get('e1')!, 5);
    gate.release();
    await started;
    expect((await wait('e1')).exitStatus).toBe(5);
    expect(f.topics().slice(-2)).toEqual(['/tasks/exec-started', '/tasks/exit']);
    expect(f.status('e1')).toBe(Status.STOPPED);
  });
});

describe('overlapping Deletes', () => {
  it('two Deletes at once: one /tasks/delete, one runtime delete, the second is NotFound', async () => {
    const pid = await running();
    f.exit(pid, 0);
    await wait();
    const gate = f.runtime.hold('delete');
    const first = del();
    const second = failure(del());
    await gate.entered;
    gate.release();
    expect((await first).exitStatus).toBe(0);
    expect(await second).toBe('5: container not created: not found');
    expect(f.runtime.count('delete')).toBe(1);
    expect(f.topics().filter((t) => t === '/tasks/delete')).toHaveLength(1);
  });

  it('a Delete that fails leaves the task stopped, and a Delete waiting on it gets the same failure', async () => {
    const pid = await running();
    f.exit(pid, 0);
    await wait();
    const gate = f.runtime.hold('delete');
    const first = failure(del());
    const second = failure(del());
    await gate.entered;
    gate.release(new Error('device busy'));
    expect(await first).toBe('2: failed to delete task: device busy');
    expect(await second).toBe('2: failed to delete task: device busy');
    expect(f.status()).toBe(Status.STOPPED);
    await del();
    expect(f.topics().filter((t) => t === '/tasks/delete')).toHaveLength(1);
  });

  it('Kill during Delete is NotFound and never reaches the runtime', async () => {
    const pid = await running();
    f.exit(pid, 137);
    await wait();
    const gate = f.runtime.hold('delete');
    const deleted = del();
    await gate.entered;
    expect(f.status()).toBe(Status.STOPPED);
    const kill = f.service.kill(T.KillRequest.create({ id: 'c1', signal: 9 }));
    expect(await failure(kill)).toBe('5: cannot kill a deleted process: not found');
    gate.release();
    await deleted;
    expect(f.runtime.count('kill')).toBe(0);
  });

  it('two Deletes of one exec at once: one succeeds, the second is NotFound', async () => {
    await running();
    f.addExec('e1');
    const execPid = await start('e1').then((r) => r.pid!);
    f.exit(execPid, 0);
    await wait('e1');
    const [a, b] = await Promise.allSettled([del('e1'), del('e1')]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    expect((b as PromiseRejectedResult).reason.message).toBe('process does not exist e1: not found');
  });
});

describe('illegal moves', () => {
  it('an exit arriving for a deleted exec is dropped, not applied', async () => {
    await running();
    f.addExec('e1');
    const execPid = await start('e1').then((r) => r.pid!);
    f.exit(execPid, 0);
    await wait('e1');
    await del('e1');
    f.exit(execPid, 0);
    await settle();
    expect(f.exits().map((e) => e.id)).toEqual(['e1']);
  });
});

describe('an init whose exit the runtime reports (a container in its pod sandbox)', () => {
  it('takes its exit from the runtime, after /tasks/start, and not from a reaped exit of its pid', async () => {
    const waited: string[] = [];
    let report!: (status: number) => void;
    f.runtime.waitInitExit = (id) => {
      waited.push(id);
      return new Promise((resolve) => (report = resolve));
    };
    const pid = await f.create();
    expect(waited).toEqual([]);
    await start();
    expect(waited).toEqual(['c1']);
    // The pid is the sandbox's: its exit belongs to the pod's sandbox container, not to this task.
    f.exit(pid, 9);
    await settle();
    expect(f.status()).toBe(Status.RUNNING);
    report(3);
    expect((await wait()).exitStatus).toBe(3);
    expect(f.topics()).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit']);
    expect((await del()).exitStatus).toBe(3);
  });

  it('a wait that fails ends the task with 255 after killing what is left of it', async () => {
    let fail!: (err: Error) => void;
    f.runtime.waitInitExit = () => new Promise((_, reject) => (fail = reject));
    await f.create();
    await start();
    fail(new Error('container "c1" does not exist'));
    expect((await wait()).exitStatus).toBe(255);
    expect(f.runtime.count('kill')).toBe(1);
  });
});
