import { spawn } from 'node:child_process';

/** The flags and environment containerd gives every shim binary invocation (spec §1.2). */
export interface ShimInvocation {
  binary: string;
  namespace: string;
  id: string;
  /** containerd's gRPC socket path; `<address>.ttrpc` is where events go. */
  address: string;
  ttrpcAddress: string;
  publishBinary: string;
  bundle: string;
  debug: boolean;
}

export interface ShimOutput {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr together, as containerd reads them (Go CombinedOutput). */
  output: string;
  stdout: Buffer;
}

export function shimEnv(s: ShimInvocation): NodeJS.ProcessEnv {
  return { ...process.env, TTRPC_ADDRESS: s.ttrpcAddress, GRPC_ADDRESS: s.address, NAMESPACE: s.namespace, MAX_SHIM_VERSION: '2' };
}

function baseArgs(s: ShimInvocation): string[] {
  return ['-namespace', s.namespace, '-address', s.address, '-publish-binary', s.publishBinary, '-id', s.id];
}

/** `BINARY … start`, with the options Any (or nothing) on stdin. */
export function runShimStart(s: ShimInvocation, options: Uint8Array, timeoutMs: number): Promise<ShimOutput> {
  return runShim(s, [...baseArgs(s), ...(s.debug ? ['-debug'] : []), 'start'], options, timeoutMs);
}

/** `BINARY … -bundle B delete`: the cleanup containerd runs after every task. */
export function runShimDelete(s: ShimInvocation, timeoutMs: number): Promise<ShimOutput> {
  return runShim(s, [...baseArgs(s), '-bundle', s.bundle, ...(s.debug ? ['-debug'] : []), 'delete'], new Uint8Array(0), timeoutMs);
}

function runShim(s: ShimInvocation, args: string[], input: Uint8Array, timeoutMs: number): Promise<ShimOutput> {
  return new Promise((resolve, reject) => {
    // Its own process group, as containerd starts shims: our terminal's ^C is not theirs.
    const child = spawn(s.binary, args, { cwd: s.bundle, env: shimEnv(s), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close': containerd also waits for every holder of the output pipes.
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      resolve({ exitCode, signal, stdout, output: Buffer.concat([stdout, ...err]).toString('utf8') });
    });
  });
}

export interface ShimAddress {
  path: string;
  /** 3 means the Task API is served as containerd.task.v3.Task. */
  version: number;
}

/** What `start` printed: a plain address (1.6 style) or 2.x's JSON (spec §1.3). */
export function parseStartOutput(text: string): ShimAddress {
  const trimmed = text.trim();
  let address = trimmed;
  let version = 2;
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed) as { version?: number; address?: string; protocol?: string };
    if (parsed.protocol && parsed.protocol !== 'ttrpc') throw new Error(`shim speaks ${parsed.protocol}, only ttrpc is supported`);
    address = parsed.address ?? '';
    version = parsed.version ?? 2;
  }
  if (!address.startsWith('unix://')) throw new Error(`shim printed no unix:// address: ${JSON.stringify(trimmed)}`);
  return { path: address.slice('unix://'.length), version };
}
