import { readFileSync } from 'node:fs';
import { containerd, google } from '../api/gen/proto.js';
import { TypeUrls } from '../api/any.js';
import { lookPath } from '../runtime/binary-path.js';
import { runProcess } from '../runtime/run-process.js';
import { decodeOptions, configFor } from './runtime-binding.js';
import { selectRuntime } from '../runtime/select.js';
import { VERSION } from './version.js';

const FEATURES_TIMEOUT_MS = 5_000;

function readStdin(): Uint8Array {
  if (process.stdin.isTTY) return new Uint8Array(0);
  try {
    return readFileSync(0);
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * `-info` (containerd 2.x): read the runtime options Any on stdin and print a RuntimeInfo. The
 * features are those of the runtime these options would select (`<runtime> features`, OCI
 * runtime-spec features JSON): containerd checks them before creating a task with id-mapped
 * mounts. A runtime without the command simply reports no features.
 */
export async function info(): Promise<void> {
  const input = readStdin();
  const options = input.length > 0 ? google.protobuf.Any.decode(input) : undefined;
  const decoded = decodeOptions(options);
  const runtime = selectRuntime(await configFor(decoded), { runcOptions: decoded.runc });
  const binary = lookPath(runtime.binary, process.env.PATH);
  let features: google.protobuf.IAny | undefined;
  if (binary) {
    const r = await runProcess(binary, ['features'], {
      env: { ...process.env, ...runtime.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeoutMs: FEATURES_TIMEOUT_MS,
    });
    if (r.kind === 'exited' && r.exitCode === 0 && r.stdout.trim().startsWith('{')) {
      features = { typeUrl: TypeUrls.OciFeatures, value: Buffer.from(r.stdout) };
    }
  }
  const out = containerd.types.RuntimeInfo.encode({
    name: 'io.containerd.tsshim.v2',
    version: { version: VERSION, revision: `node ${process.version}` },
    options,
    features,
  }).finish();
  await new Promise<void>((resolve) => process.stdout.write(out, () => resolve()));
}
