// Small-call round trips of our ttrpc client against the State method of two real shims on
// the same private containerd: tsshim and the Go reference shim (containerd-shim-runc-v2).
// Rounds alternate between the two so machine drift hits both alike.
//   npm run bench:ttrpc -- [--calls N] [--rounds R]
// Needs root, containerd, runc and a built tsshim (npm run build).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as transport from '../src/ttrpc/index.js';
import { containerd } from '../src/api/gen/proto.js';
import { benchmark } from './bench-ttrpc.mjs';
import { busyboxImage, packagedShimDir, startContainerd, uniqueId } from '../test/integration/harness/index.js';
import { median, numberOption } from './bench-util.js';

const CALLS = numberOption('calls', 5000);
const ROUNDS = numberOption('rounds', 3);

const c = await startContainerd({ pathPrepend: [packagedShimDir()] });
try {
  const image = await busyboxImage(c);
  const shims = [
    { label: 'tsshim', runtime: 'io.containerd.tsshim.v2', id: uniqueId('bt'), seq: [] as number[], conc: [] as number[], p50: [] as number[] },
    { label: 'Go runc shim', runtime: 'io.containerd.runc.v2', id: uniqueId('bg'), seq: [] as number[], conc: [] as number[], p50: [] as number[] },
  ];
  for (const s of shims) {
    const r = await c.ctr(['run', '-d', '--runtime', s.runtime, image, s.id, 'sleep', '1000']);
    if (r.code !== 0) throw new Error(`${s.runtime}: ${r.stderr}`);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of shims) {
      const address = readFileSync(join(c.dir, 'state', 'io.containerd.runtime.v2.task', c.namespace, s.id, 'address'), 'utf8');
      const res = await benchmark(transport, {
        target: address.replace(/^unix:\/\//, ''),
        service: 'containerd.task.v2.Task',
        method: 'State',
        payload: containerd.task.v2.StateRequest.encode({ id: s.id }).finish(),
        metadata: [['containerd-namespace-ttrpc', c.namespace]],
        calls: CALLS,
        concurrency: 64,
      });
      s.seq.push(res.sequentialCallsPerSec);
      s.conc.push(res.concurrentCallsPerSec);
      s.p50.push(res.latencyMs.p50);
    }
  }
  for (const s of shims) {
    await c.ctr(['task', 'kill', '-s', 'SIGKILL', s.id]);
  }
  await new Promise((r) => setTimeout(r, 1000));
  for (const s of shims) {
    await c.ctr(['task', 'delete', s.id]);
    await c.ctr(['container', 'delete', s.id]);
  }
  const [t, g] = shims as [(typeof shims)[0], (typeof shims)[0]];
  const lines = [
    `containerd ${c.version}; our client calling State, ${CALLS} calls per run, ${ROUNDS} alternating runs per shim (medians)`,
    '',
    '| figure | tsshim | Go runc shim | ratio tsshim/Go |',
    '| --- | --- | --- | --- |',
    `| sequential calls/s | ${median(t.seq)} | ${median(g.seq)} | ${(median(t.seq) / median(g.seq)).toFixed(2)} |`,
    `| calls/s with 64 in flight | ${median(t.conc)} | ${median(g.conc)} | ${(median(t.conc) / median(g.conc)).toFixed(2)} |`,
    `| sequential p50 latency, ms | ${median(t.p50).toFixed(3)} | ${median(g.p50).toFixed(3)} | ${(median(t.p50) / median(g.p50)).toFixed(2)} |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await c.stop();
}
