// Output delivery before exit: tsshim against the Go reference shim (containerd-shim-runc-v2),
// interleaved on the same private containerd. Prints, per shim:
//   - bytes lost by `ctr run` / `ctr task exec` of `seq 1 600000` into a slow reader;
//   - bytes lost by six parallel `ctr run` of 50 MB each (fast reader);
//   - how long after a detached task exits its exit is reported when nobody reads its FIFO;
//   - wall time of `sh -c 'sleep 600 & echo hi'` as init and as exec (background child holds stdout);
// and, for tsshim, the delivery waits and the longest reader stall its debug log recorded,
// which is what the no-progress bound (DELIVERY_STALL_MS) is measured against.
//   npm run bench:delivery -- [--rounds N]
// Needs root and a built tsshim (npm run build). containerd: $TSSHIM_TEST_CONTAINERD or the system one.
import { performance } from 'node:perf_hooks';
import type { CtrEvent } from '../test/integration/harness/index.js';
import { uniqueId } from '../test/integration/harness/index.js';
import { startTsshimEnv } from '../test/integration/tsshim-env.js';
import { median, numberOption } from './bench-util.js';

const ROUNDS = numberOption('rounds', 3);
const SHIMS = [
  { label: 'tsshim', runtime: 'io.containerd.tsshim.v2' },
  { label: 'go runc shim', runtime: 'io.containerd.runc.v2' },
] as const;
type Label = (typeof SHIMS)[number]['label'];

const SLOW = { bytes: 16 << 10, everyMs: 10 };
const SLOW_LINES = 600_000;
const BIG_LINES = 6_388_889;

function seqBytes(n: number): number {
  let total = 0;
  for (let digits = 1, lo = 1; lo <= n; digits++, lo *= 10) total += (Math.min(n, lo * 10 - 1) - lo + 1) * (digits + 1);
  return total;
}

const list = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');

async function main(): Promise<void> {
  const env = await startTsshimEnv({ start: { debug: true } });
  const figures = new Map<string, Map<Label, number[]>>();
  const record = (what: string, label: Label, x: number) => {
    if (!figures.has(what)) figures.set(what, new Map());
    const m = figures.get(what)!;
    m.set(label, [...(m.get(label) ?? []), x]);
  };
  const c = env.c;
  try {
    console.log(`containerd ${c.version}, ${ROUNDS} rounds`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const shim of SHIMS) {
        const rt = shim.runtime;
        const slow = await c.ctr(['run', '--rm', '--runtime', rt, env.image, uniqueId('b-slow'), 'seq', '1', String(SLOW_LINES)], {
          slowReader: SLOW,
          timeoutMs: 300_000,
        });
        record('slow reader, ctr run: bytes lost', shim.label, seqBytes(SLOW_LINES) - slow.stdout.length);

        const host = uniqueId('b-host');
        await c.ctr(['run', '-d', '--runtime', rt, env.image, host, 'sleep', '1000']);
        const ex = await c.ctr(['task', 'exec', '--exec-id', 'seq', host, 'seq', '1', String(SLOW_LINES)], { slowReader: SLOW, timeoutMs: 300_000 });
        record('slow reader, ctr task exec: bytes lost', shim.label, seqBytes(SLOW_LINES) - ex.stdout.length);

        let t0 = performance.now();
        await c.ctr(['task', 'exec', '--exec-id', 'bg', host, 'sh', '-c', 'sleep 600 & echo hi'], { timeoutMs: 120_000 });
        record("exec 'sleep 600 & echo hi' incl. exec Delete: ms", shim.label, performance.now() - t0);
        await c.ctr(['task', 'kill', '-a', '-s', 'SIGKILL', host]);
        await c.ctr(['task', 'delete', host], { timeoutMs: 60_000 });
        await c.ctr(['container', 'delete', host]);

        t0 = performance.now();
        await env.c.ctr(['run', '--rm', '--runtime', rt, env.image, uniqueId('b-bg'), 'sh', '-c', 'sleep 600 & echo hi'], { timeoutMs: 120_000 });
        record("run 'sleep 600 & echo hi': ms", shim.label, performance.now() - t0);

        const big = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            c.ctr(['run', '--rm', '--runtime', rt, env.image, uniqueId(`b-big${i}`), 'seq', '1', String(BIG_LINES)], { timeoutMs: 600_000 }),
          ),
        );
        record('6 x 50 MB at once: bytes lost (sum)', shim.label, big.reduce((n, r) => n + seqBytes(BIG_LINES) - r.stdout.length, 0));

        const id = uniqueId('b-unread');
        const events = c.events();
        await events.ready;
        await c.ctr(['run', '-d', '--runtime', rt, env.image, id, 'sh', '-c', 'sleep 2; seq 1 5000']);
        const exited = await events.waitFor((e: CtrEvent) => e.topic === '/tasks/exit' && e.event.container_id === id, 120_000);
        const exitedAt = parseTimestamp(exited.event.exited_at);
        if (Number.isNaN(exitedAt)) console.log('unparsed exit event:', JSON.stringify(exited));
        record('detached, unread FIFO: exit reported after the exit, ms', shim.label, parseEventTime(exited.timestamp) - exitedAt);
        await events.stop();
        await c.ctr(['task', 'delete', id], { timeoutMs: 60_000 });
        await c.ctr(['container', 'delete', id]);
      }
    }
    const deliveries = c
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('"output delivered"'))
      .map((l) => JSON.parse(l) as { waitedMs: number; longestStallMs: number });
    for (const [what, per] of figures) {
      for (const [label, xs] of per) console.log(`${what.padEnd(58)} ${label.padEnd(13)} median ${Math.round(median(xs))}  [${list(xs)}]`);
    }
    const waits = deliveries.map((d) => d.waitedMs);
    const stalls = deliveries.map((d) => d.longestStallMs);
    console.log(`tsshim deliveries: ${deliveries.length}; wait after exit median ${median(waits)} ms, max ${Math.max(...waits)} ms`);
    console.log(`tsshim longest reader stall seen while delivering: max ${Math.max(...stalls)} ms (bound: 2000 ms)`);
  } finally {
    await env.stop();
  }
}

/** exited_at as ctr prints it: an RFC 3339 string (1.6, 1.7) or {seconds, nanos} (2.x). */
function parseTimestamp(v: unknown): number {
  if (typeof v === 'string') return Date.parse(v);
  if (v && typeof v === 'object' && 'seconds' in v) {
    const t = v as { seconds: number | string; nanos?: number };
    return Number(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6;
  }
  return NaN;
}

/** ctr prints event times as "2006-01-02 15:04:05.999999999 -0700 MST". */
function parseEventTime(text: string): number {
  const m = /^(\S+) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d\d)(\d\d)/.exec(text);
  if (!m) return NaN;
  const ms = m[3] ? `.${m[3].slice(1, 4).padEnd(3, '0')}` : '';
  return Date.parse(`${m[1]}T${m[2]}${ms}${m[4]}:${m[5]}`);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
