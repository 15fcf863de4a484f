import { lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { containerd } from '../api/gen/proto.js';
import { toTimestamp } from '../api/timestamp.js';
import { unmountRecursive } from '../sys/index.js';
import { RuntimeDriver } from '../runtime/runtime-driver.js';
import { isNotExist } from '../runtime/runtime-errors.js';
import { readAddressSync, readInitExitSync, readInitPidSync, readRuntimeFileSync } from '../task/bundle-files.js';
import type { ShimFlags } from './flags.js';
import { probeSocket } from './socket-address.js';

/** Go's uint32(-1): what the reference shim reports when the init pid is unknown. */
const UNKNOWN_PID = 0xffffffff;
/** The status the reference shim reports for a task it had to kill here (spec §7.1). */
const KILLED_STATUS = 137;

/**
 * A daemon that was killed leaves its socket file behind. Remove it only if nothing listens on
 * it any more (connection refused): a group's daemon may still serve other tasks.
 */
async function removeDeadSocket(bundle: string): Promise<void> {
  const path = readAddressSync(bundle)?.replace(/^unix:\/\//, '');
  if (!path?.startsWith('/')) return;
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch {
    return;
  }
  if ((await probeSocket(path, 1000)) !== 'refused') return;
  try {
    unlinkSync(path);
  } catch {
    // someone else removed it
  }
}

/**
 * The `delete` action: containerd runs it after every task (and after a shim died) to make sure
 * nothing of the task is left. Idempotent: everything already gone is success. Prints only the
 * DeleteResponse bytes; warnings go to stderr, which containerd logs.
 */
export async function deleteAction(flags: ShimFlags): Promise<void> {
  const bundle = flags.bundle || process.cwd();
  const warnings: string[] = [];

  const saved = readRuntimeFileSync(bundle);
  if (saved) {
    try {
      const driver = new RuntimeDriver(saved.runtime, { namespace: saved.namespace || flags.namespace, bundle });
      await driver.delete(flags.id, { force: true });
    } catch (err) {
      if (!isNotExist(err)) warnings.push(`runtime delete: ${(err as Error).message}`);
    }
  }
  try {
    unmountRecursive(join(bundle, 'rootfs'));
  } catch (err) {
    warnings.push(`unmount rootfs: ${(err as Error).message}`);
  }

  await removeDeadSocket(bundle);

  // The real exit status when the shim recorded one before dying; else what the reference reports.
  const exit = readInitExitSync(bundle);
  const response = containerd.task.v2.DeleteResponse.encode({
    pid: readInitPidSync(bundle) ?? UNKNOWN_PID,
    exitStatus: exit?.status ?? KILLED_STATUS,
    exitedAt: toTimestamp(exit ? new Date(exit.exitedAt) : new Date()),
  }).finish();
  if (warnings.length > 0) process.stderr.write(`${warnings.join('\n')}\n`);
  await new Promise<void>((resolve) => process.stdout.write(response, () => resolve()));
}
