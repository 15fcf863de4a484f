import Long from 'long';
import { io, type google } from '../api/gen/proto.js';
import { TypeUrls, packAny } from '../api/any.js';
import { CgroupGoneError, readV1Metrics, readV2Metrics, type CgroupLocation } from '../sys/cgroups/index.js';
import { Code, errdefs, wrapUnknown } from '../errors/index.js';

type Encodable = bigint | number | string | undefined | Encodable[] | { [k: string]: Encodable };

// protobufjs takes uint64 as Long; cgroup counters (limits of 2^63 and more) do not fit a
// double.
function longify(v: Encodable): unknown {
  if (typeof v === 'bigint') return Long.fromString(v.toString(), true);
  if (Array.isArray(v)) return v.map(longify);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = longify(x);
    return out;
  }
  return v;
}

/**
 * The Stats payload for a container's cgroup: `io.containerd.cgroups.v1.Metrics` or `…v2.Metrics`,
 * the names CRI and `ctr task metrics` decode by (spec §7.4).
 */
export async function cgroupStats(cgroup: CgroupLocation): Promise<google.protobuf.IAny> {
  try {
    if (cgroup.version === 1) {
      const m = longify((await readV1Metrics(cgroup.controllers)) as unknown as Encodable) as io.containerd.cgroups.v1.IMetrics;
      return packAny(TypeUrls.CgroupsV1Metrics, io.containerd.cgroups.v1.Metrics.encode(m).finish());
    }
    const m = longify((await readV2Metrics(cgroup.path)) as unknown as Encodable) as io.containerd.cgroups.v2.IMetrics;
    return packAny(TypeUrls.CgroupsV2Metrics, io.containerd.cgroups.v2.Metrics.encode(m).finish());
  } catch (err) {
    if (err instanceof CgroupGoneError) throw errdefs(Code.NotFound, 'cgroup does not exist', { cause: err });
    throw wrapUnknown('failed to read cgroup stats', err);
  }
}
