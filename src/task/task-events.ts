import { containerd } from '../api/gen/proto.js';
import { TypeUrls } from '../api/any.js';
import { toTimestamp, ZERO_TIME } from '../api/timestamp.js';
import type { ExitRecord } from './process.js';

const ev = containerd.events;

export interface EventSink {
  publish(topic: string, typeUrl: string, value: Uint8Array): void;
}

/** Builds the task events of spec §4.1 and hands them, in call order, to the publisher. */
export class TaskEvents {
  constructor(private readonly sink: EventSink) {}

  taskCreate(m: containerd.events.ITaskCreate): void {
    this.sink.publish('/tasks/create', TypeUrls.TaskCreate, ev.TaskCreate.encode(m).finish());
  }

  taskStart(containerId: string, pid: number): void {
    this.sink.publish('/tasks/start', TypeUrls.TaskStart, ev.TaskStart.encode({ containerId, pid }).finish());
  }

  taskExit(containerId: string, id: string, pid: number, exit: ExitRecord): void {
    this.sink.publish('/tasks/exit', TypeUrls.TaskExit, ev.TaskExit.encode({
      containerId, id, pid, exitStatus: exit.status, exitedAt: toTimestamp(exit.at),
    }).finish());
  }

  taskDelete(containerId: string, pid: number, exit: ExitRecord | undefined): void {
    this.sink.publish('/tasks/delete', TypeUrls.TaskDelete, ev.TaskDelete.encode({
      containerId, pid, exitStatus: exit?.status ?? 0, exitedAt: exit ? toTimestamp(exit.at) : ZERO_TIME,
    }).finish());
  }

  execAdded(containerId: string, execId: string): void {
    this.sink.publish('/tasks/exec-added', TypeUrls.TaskExecAdded, ev.TaskExecAdded.encode({ containerId, execId }).finish());
  }

  execStarted(containerId: string, execId: string, pid: number): void {
    this.sink.publish('/tasks/exec-started', TypeUrls.TaskExecStarted, ev.TaskExecStarted.encode({ containerId, execId, pid }).finish());
  }

  paused(containerId: string): void {
    this.sink.publish('/tasks/paused', TypeUrls.TaskPaused, ev.TaskPaused.encode({ containerId }).finish());
  }

  resumed(containerId: string): void {
    this.sink.publish('/tasks/resumed', TypeUrls.TaskResumed, ev.TaskResumed.encode({ containerId }).finish());
  }

  oom(containerId: string): void {
    this.sink.publish('/tasks/oom', TypeUrls.TaskOOM, ev.TaskOOM.encode({ containerId }).finish());
  }
}
