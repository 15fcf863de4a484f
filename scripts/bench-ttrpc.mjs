// Round-trip benchmark for the ttrpc transport: small calls per second, sequential and concurrent.
//
//   node scripts/bench-ttrpc.mjs                      our client -> our server (in a child process)
//   node scripts/bench-ttrpc.mjs --target /run/x.sock --service containerd.task.v2.Task \
//        --method State --payload-hex 0a026331 [--namespace default]
//                                                     our client -> any ttrpc server (e.g. the Go shim)
//   common: --calls 20000 --concurrency 64 --json
//           --accept-errors   count status replies (e.g. NotFound for an unknown task id) as round trips
//
// src/ttrpc is TypeScript, so it is bundled with esbuild into a temp dir first.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);

async function loadTransport(dir) {
  const outfile = join(dir, 'ttrpc.mjs');
  await build({
    entryPoints: [join(root, 'src/ttrpc/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'error',
    // `long` and protobufjs resolve from the project's node_modules, not the temp dir.
    nodePaths: [join(root, 'node_modules')],
  });
  return import(pathToFileURL(outfile).href);
}

/**
 * Measures `calls` sequential round trips, then `calls` more with `concurrency` in flight.
 * Returns calls/s for both and latency percentiles (ms) of the sequential run.
 */
export async function benchmark(transport, { target, service, method, payload, metadata, calls = 20000, concurrency = 64, acceptErrors = false }) {
  const client = await transport.TtrpcClient.connect(target, { connectTimeoutMs: 5000 });
  const opts = metadata ? { metadata } : {};
  let errorReplies = 0;
  const roundTrip = () =>
    client.call(service, method, payload, opts).catch((err) => {
      if (!acceptErrors || client.closed) throw err;
      errorReplies++;
    });
  try {
    for (let i = 0; i < Math.min(1000, calls); i++) await roundTrip();

    const latencies = new Float64Array(calls);
    let start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const t = process.hrtime.bigint();
      await roundTrip();
      latencies[i] = Number(process.hrtime.bigint() - t) / 1e6;
    }
    const sequentialSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    latencies.sort();

    let issued = 0;
    const worker = async () => {
      while (issued < calls) {
        issued++;
        await roundTrip();
      }
    };
    start = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const concurrentSeconds = Number(process.hrtime.bigint() - start) / 1e9;

    const pct = (p) => latencies[Math.min(calls - 1, Math.floor(p * calls))];
    return {
      target,
      service,
      method,
      calls,
      concurrency,
      sequentialCallsPerSec: Math.round(calls / sequentialSeconds),
      concurrentCallsPerSec: Math.round(calls / concurrentSeconds),
      latencyMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: latencies[calls - 1] },
      errorReplies,
    };
  } finally {
    client.close();
  }
}

async function serve(transport, path) {
  const server = new transport.TtrpcServer();
  const echo = { decode: (b) => b, encode: (b) => b, handler: (b) => b };
  server.register('bench.Echo', { Echo: echo });
  await server.listen({ path });
  process.send?.('ready');
  process.on('disconnect', () => server.shutdown({ graceMs: 0 }).then(() => process.exit(0)));
}

async function main() {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      service: { type: 'string', default: 'bench.Echo' },
      method: { type: 'string', default: 'Echo' },
      'payload-hex': { type: 'string', default: '0a026331' },
      namespace: { type: 'string' },
      calls: { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '64' },
      json: { type: 'boolean', default: false },
      'accept-errors': { type: 'boolean', default: false },
      serve: { type: 'string' },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-ttrpc-'));
  const transport = await loadTransport(dir);
  if (values.serve) {
    rmSync(dir, { recursive: true, force: true });
    return serve(transport, values.serve);
  }

  let child;
  let target = values.target;
  try {
    if (!target) {
      target = join(dir, 'bench.sock');
      child = spawn(process.execPath, [self, '--serve', target], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
      });
    }
    const result = await benchmark(transport, {
      target,
      service: values.service,
      method: values.method,
      payload: Buffer.from(values['payload-hex'], 'hex'),
      metadata: values.namespace ? { 'containerd-namespace-ttrpc': values.namespace } : undefined,
      calls: Number(values.calls),
      concurrency: Number(values.concurrency),
      acceptErrors: values['accept-errors'],
    });
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`target       ${result.target} (${result.service}/${result.method})`);
      console.log(`sequential   ${result.sequentialCallsPerSec} calls/s  p50 ${result.latencyMs.p50.toFixed(3)} ms  p99 ${result.latencyMs.p99.toFixed(3)} ms`);
      console.log(`concurrent   ${result.concurrentCallsPerSec} calls/s  (${result.concurrency} in flight)`);
      if (result.errorReplies) console.log(`error replies ${result.errorReplies} (counted as round trips)`);
    }
  } finally {
    child?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === self) await main();
