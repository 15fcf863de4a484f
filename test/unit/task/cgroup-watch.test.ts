import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { cgroupOfPid } from '../../../src/sys/cgroups/index.js';
import { watchContainerCgroup } from '../../../src/task/cgroup-watch.js';

function recordingLogger(): { logger: pino.Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) });
  return { logger, warnings };
}

describe('watchContainerCgroup', () => {
  it('finds the cgroup of the process and arms an OOM watch on it', () => {
    const { logger, warnings } = recordingLogger();
    const watch = watchContainerCgroup(process.pid, () => {}, logger);
    try {
      expect(watch.cgroup).toEqual(cgroupOfPid(process.pid));
      expect(watch.oom).toBeDefined();
      expect(warnings).toEqual([]);
    } finally {
      watch.oom?.close();
    }
  });

  it('gives no cgroup and no OOM watch, with a warning, for a process whose cgroup cannot be read', () => {
    const { logger, warnings } = recordingLogger();
    // Above pid_max: never a process.
    expect(watchContainerCgroup(2 ** 22 + 1, () => {}, logger)).toEqual({ cgroup: undefined, oom: undefined });
    expect(warnings).toEqual(['cannot watch the container cgroup: no OOM events']);
  });
});
