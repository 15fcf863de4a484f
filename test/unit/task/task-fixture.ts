// A TaskService wired to a FakeRuntime, an in-memory event sink and its own ExitRouter, over a
// scratch bundle: the task layer exactly as the daemon runs it, minus the runtime binary.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { containerd } from '../../../src/api/gen/proto.js';
import { ExitRouter } from '../../../src/task/exit-router.js';
import { TaskService } from '../../../src/task/service.js';
import { TaskEvents } from '../../../src/task/task-events.js';
import { FakeRuntime } from './fake-runtime.js';

export const T = containerd.task.v2;
export const Status = containerd.v1.types.Status;

export interface PublishedEvent {
  topic: string;
  value: Uint8Array;
}

export interface TaskFixture {
  service: TaskService;
  runtime: FakeRuntime;
  router: ExitRouter;
  events: PublishedEvent[];
  bundle: string;
  /** The topics published so far, in order. */
  topics(): string[];
  /** The /tasks/exit events published so far, decoded. */
  exits(): containerd.events.TaskExit[];
  /** The kernel reports that the process with this pid exited with `status`. */
  exit(pid: number, status: number): void;
  create(id?: string): Promise<number>;
  addExec(execId: string, id?: string): void;
  status(execId?: string, id?: string): containerd.v1.types.Status;
  cleanup(): void;
}

export function taskFixture(opts: { shutdown?: () => void } = {}): TaskFixture {
  const logger = pino({ level: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'tss-task-'));
  const runtime = new FakeRuntime();
  const router = new ExitRouter(logger);
  const events: PublishedEvent[] = [];
  const sink = { publish: (topic: string, _typeUrl: string, value: Uint8Array) => void events.push({ topic, value }) };
  const service = new TaskService({
    namespace: 'test',
    logger,
    router,
    events: new TaskEvents(sink),
    bindRuntime: async () => ({ runtime, errors: { isNotExist: () => false, isProcessAlreadyFinished: () => false } }),
    mountRootfs: () => undefined,
    unmountRootfs: () => undefined,
    shutdown: opts.shutdown ?? (() => undefined),
  });
  const bundleOf = (id: string) => join(dir, id);
  const f: TaskFixture = {
    service,
    runtime,
    router,
    events,
    bundle: bundleOf('c1'),
    topics: () => events.map((e) => e.topic),
    exits: () => events.filter((e) => e.topic === '/tasks/exit').map((e) => containerd.events.TaskExit.decode(e.value)),
    exit: (pid, status) => router.dispatch({ pid, status, exitedAt: new Date() }),
    async create(id = 'c1') {
      const bundle = bundleOf(id);
      mkdirSync(bundle, { recursive: true });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify({ linux: { namespaces: [{ type: 'pid' }] } }));
      const r = await service.create(T.CreateTaskRequest.create({ id, bundle }));
      return r.pid ?? 0;
    },
    addExec(execId, id = 'c1') {
      const spec = { id: execId, args: ['true'], cwd: '/' };
      service.exec(T.ExecProcessRequest.create({ id, execId, spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify(spec)) } }));
    },
    status(execId = '', id = 'c1') {
      return service.state(T.StateRequest.create({ id, execId })).status ?? Status.UNKNOWN;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return f;
}

/** The error a promise rejects with, as "code: message"; fails the test if it resolves. */
export async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; message: string };
    return `${e.code}: ${e.message}`;
  }
  throw new Error('expected a failure');
}

/** Lets queued promise reactions and file writes run. */
export function settle(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
