// Test harness: a private containerd with real runtimes, driven through ctr.
export { startContainerd, containerdVersion, defaultContainerd } from './containerd.js';
export type { Containerd, CtrOptions, CtrResult, RestartOptions, StartOptions } from './containerd.js';
export type { CtrEvent, EventStream } from './events.js';
export { eventContainerId, parseEventLine } from './events.js';
export { findLeftovers } from './cleanup.js';
export type { Leftovers, LeftoverProcess } from './cleanup.js';
export { busyboxImage, busyboxRootfs } from './images.js';
export { projectBinDir, projectDir, cacheDir, containerdBinaries, packagedShimDir } from './paths.js';
export type { ContainerdBinary } from './paths.js';
export { RunTimeoutError } from './run.js';

let counter = 0;

/**
 * A container id unique across concurrently running test files. runc keeps its state in
 * /run/containerd/runc/<namespace>/<id> and ctr names cgroups /<namespace>/<id>, both shared
 * by every containerd on the host, so two daemons must never run the same namespace/id pair.
 */
export function uniqueId(prefix = 'c'): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

/** True when the integration tests cannot run (they need root); use with it.skipIf / describe.skipIf. */
export function skipUnlessRoot(): boolean {
  return typeof process.getuid !== 'function' || process.getuid() !== 0;
}
