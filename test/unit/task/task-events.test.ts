import { describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import { TaskEvents } from '../../../src/task/task-events.js';

interface Published {
  topic: string;
  typeUrl: string;
  hex: string;
}

function events(): { events: TaskEvents; published: Published[] } {
  const published: Published[] = [];
  return {
    published,
    events: new TaskEvents({ publish: (topic, typeUrl, value) => published.push({ topic, typeUrl, hex: Buffer.from(value).toString('hex') }) }),
  };
}

const C1 = '0a026331'; // field 1 (container_id) "c1"

describe('TaskEvents', () => {
  it('encodes /tasks/start as container_id and pid', () => {
    const { events: e, published } = events();
    e.taskStart('c1', 42);
    expect(published).toEqual([{ topic: '/tasks/start', typeUrl: 'containerd.events.TaskStart', hex: `${C1}102a` }]);
  });

  it('encodes /tasks/exit with id, pid, status and exited_at', () => {
    const { events: e, published } = events();
    e.taskExit('c1', 'e1', 42, { status: 137, at: new Date(1_000_500) });
    // 12 02 "e1" · 18 pid 42 · 20 status 137 · 2a Timestamp{seconds 1000, nanos 500000000}
    expect(published).toEqual([{ topic: '/tasks/exit', typeUrl: 'containerd.events.TaskExit', hex: `${C1}12026531182a2089012a0908e8071080cab5ee01` }]);
  });

  it('encodes /tasks/delete of an exited process with its status and time', () => {
    const { events: e, published } = events();
    e.taskDelete('c1', 42, { status: 3, at: new Date(2_000_000) });
    expect(published).toEqual([{ topic: '/tasks/delete', typeUrl: 'containerd.events.TaskDelete', hex: `${C1}102a1803220308d00f` }]);
  });

  it('encodes /tasks/delete of a process that never exited with status 0 and Go\'s zero time', () => {
    const { events: e, published } = events();
    e.taskDelete('c1', 42, undefined);
    expect(published[0]!.hex.startsWith(`${C1}102a220b08`)).toBe(true);
    const decoded = containerd.events.TaskDelete.decode(Buffer.from(published[0]!.hex, 'hex'));
    expect(decoded.exitStatus).toBe(0);
    expect(Number(decoded.exitedAt!.seconds)).toBe(-62135596800);
    expect(decoded.exitedAt!.nanos).toBe(0);
  });

  it('encodes the exec, pause, resume and OOM events', () => {
    const { events: e, published } = events();
    e.execAdded('c1', 'e1');
    e.execStarted('c1', 'e1', 7);
    e.paused('c1');
    e.resumed('c1');
    e.oom('c1');
    expect(published).toEqual([
      { topic: '/tasks/exec-added', typeUrl: 'containerd.events.TaskExecAdded', hex: `${C1}12026531` },
      { topic: '/tasks/exec-started', typeUrl: 'containerd.events.TaskExecStarted', hex: `${C1}120265311807` },
      { topic: '/tasks/paused', typeUrl: 'containerd.events.TaskPaused', hex: C1 },
      { topic: '/tasks/resumed', typeUrl: 'containerd.events.TaskResumed', hex: C1 },
      { topic: '/tasks/oom', typeUrl: 'containerd.events.TaskOOM', hex: C1 },
    ]);
  });

  it('encodes /tasks/create with the bundle, io and pid it is given', () => {
    const { events: e, published } = events();
    e.taskCreate({ containerId: 'c1', bundle: '/b', io: { stdout: '/o' }, pid: 9 });
    // 12 "/b" · 22 TaskIO{12 "/o"} · 30 pid 9
    expect(published).toEqual([{ topic: '/tasks/create', typeUrl: 'containerd.events.TaskCreate', hex: `${C1}1202${Buffer.from('/b').toString('hex')}22041202${Buffer.from('/o').toString('hex')}3009` }]);
  });
});
