import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { io } from '../../../src/api/gen/proto.js';
import { cgroupStats } from '../../../src/task/stats.js';
import { TaskService, type TaskServiceDeps } from '../../../src/task/service.js';
import { Code, StatusError } from '../../../src/errors/index.js';
import { containerd } from '../../../src/api/gen/proto.js';

const FIXTURE = join(__dirname, '../../fixtures/cgroup2/ctr');
const str = (v: unknown) => String(v);

describe('Stats payload', () => {
  it('a cgroup v2 container answers io.containerd.cgroups.v2.Metrics with the values of its files', async () => {
    const any = await cgroupStats({ version: 2, path: FIXTURE });
    expect(any.typeUrl).toBe('io.containerd.cgroups.v2.Metrics');
    const m = io.containerd.cgroups.v2.Metrics.decode(any.value!);
    expect(str(m.pids!.current)).toBe('3');
    // "max" is the largest uint64, exactly, as the reference reports it.
    expect(str(m.pids!.limit)).toBe('18446744073709551615');
    expect(str(m.cpu!.usageUsec)).toBe('2345678');
    expect(str(m.cpu!.nrThrottled)).toBe('7');
    expect(m.cpu!.psi!.some!.avg10).toBe(1.5);
    expect(str(m.cpu!.psi!.full!.total)).toBe('789');
    expect(str(m.memory!.usage)).toBe('13631488');
    expect(str(m.memory!.usageLimit)).toBe('33554432');
    expect(str(m.memory!.swapLimit)).toBe('18446744073709551615');
    expect(str(m.memory!.anon)).toBe('4194304');
    expect(str(m.memory!.pgmajfault)).toBe('12');
    expect(str(m.memoryEvents!.oomKill)).toBe('2');
    expect(str(m.memoryEvents!.max)).toBe('42');
    expect(m.io!.usage!.map((e) => `${str(e.major)}:${str(e.minor)} ${str(e.rbytes)}/${str(e.wbytes)}`)).toEqual(['8:0 1048576/2097152', '253:1 4096/0']);
    expect(m.hugetlb.map((h) => [h.pagesize, str(h.current), str(h.failcnt)])).toEqual([['1GB', '2097152', '0'], ['2MB', '0', '4']]);
  });

  it('a cgroup that is gone answers NotFound "cgroup does not exist"', async () => {
    const err = await cgroupStats({ version: 2, path: join(FIXTURE, 'gone') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(Code.NotFound);
    expect((err as StatusError).message).toBe('cgroup does not exist: not found');
  });

  it('Stats of an unknown container is NotFound', async () => {
    const service = new TaskService({} as TaskServiceDeps);
    const err = await service.stats(containerd.task.v2.StatsRequest.create({ id: 'nope' })).catch((e: unknown) => e);
    expect((err as StatusError).code).toBe(Code.NotFound);
  });
});
