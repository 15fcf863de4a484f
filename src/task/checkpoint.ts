import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Code, StatusError, errorText } from '../errors/index.js';
import type { TaskRuntime } from './task-runtime.js';

/** CheckpointTaskRequest with its containerd.runc.v1.CheckpointOptions. */
export interface CheckpointSpec {
  imagePath: string;
  /** Kept for the caller when given; otherwise scratch space removed afterwards. */
  workPath?: string;
  exit: boolean;
  openTcp?: boolean;
  externalUnixSockets?: boolean;
  terminal?: boolean;
  fileLocks?: boolean;
  cgroupsMode?: string;
  emptyNamespaces?: readonly string[];
}

/** Where a restore finds its image; Create records it and Start runs `runc restore`. */
export interface RestoreSpec {
  imagePath: string;
  parentPath?: string;
  /** criu_work_path of the runtime options; the driver defaults to <bundle>/work. */
  workPath?: string;
}

/**
 * `runc checkpoint`; no event, as the v2 reference shim. CRIU's own account of a failure is
 * in dump.log inside the work dir, so it is copied into the bundle and named in the error.
 */
export async function checkpointContainer(
  ctx: { id: string; bundle: string; runtime: TaskRuntime; logger: Logger },
  o: CheckpointSpec,
): Promise<void> {
  const workPath = o.workPath || join(ctx.bundle, 'work', 'criu-work');
  try {
    await fsp.mkdir(workPath, { recursive: true, mode: 0o700 });
    await ctx.runtime.checkpoint({
      id: ctx.id,
      imagePath: o.imagePath,
      workPath,
      leaveRunning: !o.exit,
      tcpEstablished: o.openTcp,
      externalUnixSockets: o.externalUnixSockets,
      shellJob: o.terminal,
      fileLocks: o.fileLocks,
      cgroupsMode: o.cgroupsMode,
      emptyNamespaces: o.emptyNamespaces,
    });
  } catch (err) {
    if (err instanceof StatusError && err.code !== Code.Unknown) throw err;
    const dumpLog = join(ctx.bundle, 'criu-dump.log');
    await fsp.copyFile(join(workPath, 'dump.log'), dumpLog)
      .catch((e) => ctx.logger.warn({ err: e }, 'no CRIU dump.log to keep'));
    const message = errorText(err).split('\n')[0];
    throw new StatusError(Code.Unknown, `${message} path= ${dumpLog}`, { cause: err });
  } finally {
    if (!o.workPath) await fsp.rm(workPath, { recursive: true, force: true });
  }
}
