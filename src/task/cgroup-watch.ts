import type { Logger } from 'pino';
import { cgroupOfPid, watchOom, type CgroupLocation, type OomWatch } from '../sys/cgroups/index.js';

export interface CgroupWatch {
  cgroup: CgroupLocation | undefined;
  oom: OomWatch | undefined;
}

/**
 * Finds the init's cgroup and arms the OOM watch while the process is still held in `create`,
 * so not even an OOM right after start goes unnoticed (spec §7.3). A cgroup we cannot watch
 * costs stats and OOM events, not the container, as in the reference shim.
 */
export function watchContainerCgroup(pid: number, onOom: () => void, logger: Logger): CgroupWatch {
  let cgroup: CgroupLocation | undefined;
  try {
    cgroup = cgroupOfPid(pid);
    const oom = watchOom(cgroup, {
      onOom,
      onError: (err) => logger.warn({ err }, 'OOM watch failed'),
    });
    return { cgroup, oom };
  } catch (err) {
    logger.warn({ err }, 'cannot watch the container cgroup: no OOM events');
    return { cgroup, oom: undefined };
  }
}
