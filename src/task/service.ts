import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { StatusError, Code, errdefs, errorText, wrapUnknown } from '../errors/index.js';
import { containerd, google } from '../api/gen/proto.js';
import { toTimestamp, ZERO_TIME } from '../api/timestamp.js';
import { TypeUrls, anyTypeName } from '../api/any.js';
import { Container } from './container.js';
import { ExitRouter } from './exit-router.js';
import { checkExecOp, checkInitOp, toApiStatus } from './process-state.js';
import type { ProcessRecord } from './process.js';
import { TaskEvents } from './task-events.js';
import type { RuntimeErrorClassifier, TaskRuntime } from './task-runtime.js';
import type { TaskHooks } from './task-hooks.js';
import type { IOOwner } from '../io/process-io.js';
import { writeOciSpecSync } from './bundle-files.js';

export interface RuntimeRequest {
  id: string;
  bundle: string;
  /** CreateTaskRequest.options as sent by containerd (runc Options, runtimeoptions, or absent). */
  options: google.protobuf.IAny | null | undefined;
  /** Annotations of the container's OCI spec. */
  annotations: Record<string, string>;
}

export interface RuntimeBinding {
  runtime: TaskRuntime;
  errors: RuntimeErrorClassifier;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** io_uid/io_gid of the task options, when either is set. */
  ioOwner?: IOOwner;
  /** criu_work_path of the runc options: where a restore keeps CRIU's work files. */
  criuWorkPath?: string;
  /** Called once the runtime has deleted the container: nothing of it is left to clean up. */
  released?(): void;
  /** The config's [hooks] module, when it names one. */
  hooks?: TaskHooks;
}

export interface TaskServiceDeps {
  namespace: string;
  logger: Logger;
  router: ExitRouter;
  events: TaskEvents;
  /** Picks and prepares the OCI runtime for a new container (config file, options, annotations). */
  bindRuntime(req: RuntimeRequest): Promise<RuntimeBinding>;
  mountRootfs(mounts: containerd.types.IMount[], rootfs: string): void;
  unmountRootfs(rootfs: string): void;
  shutdown(): void;
}

interface OciSpec {
  annotations?: Record<string, string>;
  linux?: { namespaces?: Array<{ type?: string; path?: string }> };
}

/**
 * The containerd Task service (spec §3) for every container this shim holds. Lookups, state and
 * Wait answer from cached state; nothing here holds a lock across a runtime call, so State and
 * Connect are answered even while a `runc create` is still running.
 */
export class TaskService {
  private readonly containers = new Map<string, Container>();
  /** Ids whose Create is in flight, so a concurrent Create of the same id is refused. */
  private readonly creating = new Set<string>();
  /** Hooks of each container whose config names a hooks module. */
  private readonly hooks = new Map<string, TaskHooks>();

  constructor(private readonly deps: TaskServiceDeps) {}

  get containerCount(): number {
    return this.containers.size + this.creating.size;
  }

  private container(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw errdefs(Code.NotFound, 'container not created');
    return c;
  }

  async create(req: containerd.task.v2.CreateTaskRequest): Promise<containerd.task.v2.ICreateTaskResponse> {
    const { id, bundle } = req;
    if (!id) throw errdefs(Code.InvalidArgument, 'container id must not be empty');
    if (this.containers.has(id) || this.creating.has(id)) throw errdefs(Code.AlreadyExists, `container ${id}`);
    this.creating.add(id);
    const log = this.deps.logger.child({ id });
    let mounted = false;
    const rootfs = join(bundle, 'rootfs');
    try {
      let spec = readSpec(bundle);
      const binding = await this.deps.bindRuntime({ id, bundle, options: req.options, annotations: spec.annotations ?? {} });
      if (binding.hooks) {
        const changed = await binding.hooks.beforeCreate({ id, bundle, spec: spec as Record<string, unknown>, annotations: spec.annotations ?? {} });
        if (changed) spec = writeSpec(bundle, changed);
      }
      if (req.rootfs.length > 0) {
        mkdirSync(rootfs, { recursive: true, mode: 0o711 });
        try {
          this.deps.mountRootfs(req.rootfs, rootfs);
        } catch (err) {
          throw new StatusError(Code.Unknown, `failed to mount rootfs component: ${errorText(err)}`, { cause: err });
        }
        mounted = true;
      }
      const privatePidNamespace = (spec.linux?.namespaces ?? []).some((n) => n.type === 'pid' && !n.path);
      let container: Container;
      try {
        container = await Container.create(
          {
            id, bundle, privatePidNamespace,
            stdio: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
            noPivot: binding.noPivot, noNewKeyring: binding.noNewKeyring, ioOwner: binding.ioOwner,
            checkpoint: req.checkpoint
              ? { imagePath: req.checkpoint, parentPath: req.parentCheckpoint || undefined, workPath: binding.criuWorkPath }
              : undefined,
          },
          {
            namespace: this.deps.namespace,
            runtime: binding.runtime,
            errors: binding.errors,
            router: this.deps.router,
            events: binding.hooks ? withExitHook(this.deps.events, binding.hooks, log) : this.deps.events,
            logger: log,
            unmountRootfs: mounted ? () => this.deps.unmountRootfs(rootfs) : undefined,
            released: binding.released,
          },
        );
      } catch (err) {
        throw wrapUnknown('OCI runtime create failed', err);
      }
      this.containers.set(id, container);
      if (binding.hooks) this.hooks.set(id, binding.hooks);
      this.deps.events.taskCreate({
        containerId: id, bundle, rootfs: req.rootfs,
        io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
        checkpoint: req.checkpoint, pid: container.init.pid,
      });
      log.info({ pid: container.init.pid, runtime: container.runtimeName }, 'task created');
      return { pid: container.init.pid };
    } catch (err) {
      if (mounted) {
        try {
          this.deps.unmountRootfs(rootfs);
        } catch (e) {
          log.warn({ err: e }, 'unmount after failed create');
        }
      }
      throw err;
    } finally {
      this.creating.delete(id);
    }
  }

  async start(req: containerd.task.v2.StartRequest): Promise<containerd.task.v2.IStartResponse> {
    const pid = await this.container(req.id).start(req.execId);
    if (!req.execId) await this.hooks.get(req.id)?.afterStart({ id: req.id, pid });
    return { pid };
  }

  async delete(req: containerd.task.v2.DeleteRequest): Promise<containerd.task.v2.IDeleteResponse> {
    const c = this.container(req.id);
    const p = req.execId ? await c.deleteExec(req.execId) : await c.deleteInit();
    if (!req.execId) {
      this.containers.delete(req.id);
      this.hooks.delete(req.id);
    }
    return deleteResponse(p);
  }

  pids(req: containerd.task.v2.PidsRequest): Promise<containerd.task.v2.IPidsResponse> {
    return this.container(req.id).pids().then((list) => ({
      processes: list.map(({ pid, execId }) => ({
        pid,
        info: execId
          ? { typeUrl: TypeUrls.ProcessDetails, value: containerd.runc.v1.ProcessDetails.encode({ execId }).finish() }
          : undefined,
      })),
    }));
  }

  async pause(req: containerd.task.v2.PauseRequest): Promise<void> {
    await this.container(req.id).pause();
  }

  async resume(req: containerd.task.v2.ResumeRequest): Promise<void> {
    await this.container(req.id).resume();
  }

  async checkpoint(req: containerd.task.v2.CheckpointTaskRequest): Promise<void> {
    const c = this.container(req.id);
    const o = decodeCheckpointOptions(req.options);
    await c.checkpoint({
      imagePath: req.path,
      workPath: o.workPath || undefined,
      exit: o.exit,
      openTcp: o.openTcp,
      externalUnixSockets: o.externalUnixSockets,
      terminal: o.terminal,
      fileLocks: o.fileLocks,
      cgroupsMode: o.cgroupsMode || undefined,
      emptyNamespaces: o.emptyNamespaces,
    });
  }

  async kill(req: containerd.task.v2.KillRequest): Promise<void> {
    await this.container(req.id).kill(req.execId, req.signal, req.all);
  }

  exec(req: containerd.task.v2.ExecProcessRequest): void | Promise<void> {
    const c = this.container(req.id);
    if (!req.execId) throw errdefs(Code.InvalidArgument, 'exec id must not be empty');
    if (!req.spec?.value) throw errdefs(Code.InvalidArgument, 'exec process spec is missing');
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(Buffer.from(req.spec.value).toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new StatusError(Code.InvalidArgument, `exec process spec is not valid JSON: ${errorText(err)}`, { cause: err });
    }
    const add = (process: Record<string, unknown>) => {
      // The request's terminal flag wins over the spec's, as in the reference shim.
      process.terminal = req.terminal;
      c.addExec(req.execId, { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal }, JSON.stringify(process));
    };
    const hooks = this.hooks.get(req.id);
    // Without hooks the exec is registered before the reply, as always.
    if (!hooks) return add(spec);
    return hooks.beforeExec({ id: req.id, execId: req.execId, process: spec }).then((changed) => add(changed ?? spec));
  }

  resizePty(req: containerd.task.v2.ResizePtyRequest): void {
    const p = this.container(req.id).process(req.execId);
    if (req.execId) checkExecOp(p.status, 'resize');
    else checkInitOp(p.status, 'resize');
    // Without a terminal there is nothing to resize: success, as the reference shim.
    p.io?.resize(req.width, req.height);
  }

  closeIO(req: containerd.task.v2.CloseIORequest): void {
    this.container(req.id).closeIO(req.execId);
  }

  async update(req: containerd.task.v2.UpdateTaskRequest): Promise<void> {
    const c = this.container(req.id);
    if (!req.resources?.value) throw errdefs(Code.InvalidArgument, 'update resources are missing');
    const name = anyTypeName(req.resources);
    if (name !== anyTypeName({ typeUrl: TypeUrls.OciLinuxResources })) {
      throw errdefs(Code.InvalidArgument, `unexpected resources type ${req.resources.typeUrl}`);
    }
    await c.update(Buffer.from(req.resources.value).toString('utf8'));
  }

  async wait(req: containerd.task.v2.WaitRequest, signal: AbortSignal): Promise<containerd.task.v2.IWaitResponse> {
    const p = this.container(req.id).process(req.execId);
    const exit = await abortable(p.wait(), signal);
    return { exitStatus: exit.status, exitedAt: toTimestamp(exit.at) };
  }

  async stats(req: containerd.task.v2.StatsRequest): Promise<containerd.task.v2.IStatsResponse> {
    return { stats: await this.container(req.id).stats() };
  }

  state(req: containerd.task.v2.StateRequest): containerd.task.v2.IStateResponse {
    const c = this.container(req.id);
    const p = c.process(req.execId);
    return {
      id: p.id,
      bundle: c.bundle,
      pid: p.pid,
      status: toApiStatus(p.status),
      stdin: p.stdio.stdin,
      stdout: p.stdio.stdout,
      stderr: p.stdio.stderr,
      terminal: p.stdio.terminal,
      exitStatus: p.exit?.status ?? 0,
      exitedAt: p.exit ? toTimestamp(p.exit.at) : ZERO_TIME,
    };
  }

  connect(req: containerd.task.v2.ConnectRequest): containerd.task.v2.IConnectResponse {
    return { shimPid: process.pid, taskPid: this.containers.get(req.id)?.init.pid ?? 0 };
  }

  shutdown(): void {
    // A shim holding other tasks (grouping) keeps running; it exits after its last task.
    if (this.containerCount > 0) return;
    this.deps.shutdown();
  }
}

function decodeCheckpointOptions(any: google.protobuf.IAny | null | undefined): containerd.runc.v1.CheckpointOptions {
  if (!any?.typeUrl) return containerd.runc.v1.CheckpointOptions.create();
  if (anyTypeName(any) !== TypeUrls.CheckpointOptions) {
    throw errdefs(Code.InvalidArgument, `unexpected checkpoint options type ${any.typeUrl}`);
  }
  try {
    return containerd.runc.v1.CheckpointOptions.decode(any.value ?? new Uint8Array(0));
  } catch (err) {
    throw new StatusError(Code.InvalidArgument, `cannot decode checkpoint options: ${errorText(err)}`, { cause: err });
  }
}

function deleteResponse(p: ProcessRecord): containerd.task.v2.IDeleteResponse {
  return { pid: p.pid, exitStatus: p.exit?.status ?? 0, exitedAt: p.exit ? toTimestamp(p.exit.at) : ZERO_TIME };
}

/** A spec a beforeCreate hook changed replaces config.json: the runtime reads it from there. */
function writeSpec(bundle: string, spec: Record<string, unknown>): OciSpec {
  writeOciSpecSync(bundle, spec);
  return spec as OciSpec;
}

/** onExit runs after the exit is published; its failure cannot undo the exit, so it is logged. */
function withExitHook(events: TaskEvents, hooks: TaskHooks, log: Logger): TaskEvents {
  const hooked = Object.create(events) as TaskEvents;
  hooked.taskExit = (containerId, execId, pid, exit) => {
    events.taskExit(containerId, execId, pid, exit);
    hooks.onExit({ id: containerId, execId: execId === containerId ? '' : execId, status: exit.status })
      .catch((err: unknown) => log.error({ err }, 'onExit hook failed'));
  };
  return hooked;
}

function readSpec(bundle: string): OciSpec {
  const path = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StatusError(Code.InvalidArgument, `cannot read OCI spec ${path}: ${errorText(err)}`, { cause: err });
  }
  try {
    return JSON.parse(text) as OciSpec;
  } catch (err) {
    throw new StatusError(Code.InvalidArgument, `OCI spec ${path} is not valid JSON: ${errorText(err)}`, { cause: err });
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(errdefs(Code.DeadlineExceeded, 'wait'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(errdefs(Code.DeadlineExceeded, 'wait'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}
