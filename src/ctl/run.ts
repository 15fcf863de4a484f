import { mkdtemp, mkdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { constants as osConstants } from 'node:os';
import { execFileSync } from 'node:child_process';
import { constants as fsConstants, openSync } from 'node:fs';
import net from 'node:net';
import { google, runtimeoptions } from '../api/gen/proto.js';
import { TypeUrls } from '../api/any.js';
import { Code, StatusError } from '../ttrpc/index.js';
import { EventRecorder, type RecordedEvent } from './event-recorder.js';
import { defaultSpec } from './oci-spec.js';
import { parseStartOutput, runShimDelete, runShimStart, type ShimInvocation } from './shim-binary.js';
import { StdioFifos } from './stdio-fifos.js';
import { TaskClient } from './task-client.js';

export interface RunOptions {
  shim: string;
  rootfs: string;
  id: string;
  namespace: string;
  runtimeConfig?: string;
  tty: boolean;
  env: string[];
  annotations: Record<string, string>;
  args: string[];
  printEvents: boolean;
  debug: boolean;
}

/** A failure of tsshimctl itself, with the exit status it ends with (125, as docker and podman). */
export class RunError extends Error {
  constructor(message: string, readonly exitCode = 125) {
    super(message);
  }
}

const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 60_000;
const DELETE_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 10_000;
const EVENT_WAIT_MS = 2_000;

/**
 * Does what containerd does for `ctr run --rm` and no more: bundle, `start`, Create, Start, Wait,
 * Delete, Shutdown, `delete`; then removes everything it made. Returns the container's exit status.
 */
export async function run(o: RunOptions, out: { events: (e: RecordedEvent) => void; log: (line: string) => void }): Promise<number> {
  // runc refuses a root path with a symlink in it.
  const rootfs = await realpath(resolve(o.rootfs)).catch(() => resolve(o.rootfs));
  const st = await stat(rootfs).catch(() => undefined);
  if (!st?.isDirectory()) throw new RunError(`rootfs ${rootfs}: no such directory`);
  const binary = resolve(o.shim);
  if (!(await stat(binary).catch(() => undefined))?.isFile()) throw new RunError(`shim ${binary}: no such file`);

  // Everything of this run lives under one directory; removing it is the cleanup.
  const work = await mkdtemp(join(process.env.XDG_RUNTIME_DIR || tmpdir(), 'tsshimctl-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(work, { recursive: true, force: true })];
  const runCleanups = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err) => out.log(`cleanup: ${(err as Error).message}`));
  };
  try {
    // containerd's layout: the bundle directory is named after the task (the runc shim's delete relies on it).
    const bundle = join(work, o.namespace, o.id);
    await mkdir(bundle, { recursive: true, mode: 0o711 });
    const spec = defaultSpec({ id: o.id, namespace: o.namespace, rootfs, args: o.args, env: o.env, terminal: o.tty, annotations: o.annotations });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    const logFifo = await shimLog(bundle, o.debug ? (line) => out.log(line) : undefined);
    cleanups.push(async () => logFifo.close());

    const address = join(work, 'containerd.sock');
    const inv: ShimInvocation = {
      binary, namespace: o.namespace, id: o.id, address, ttrpcAddress: `${address}.ttrpc`,
      publishBinary: process.argv[1] ?? 'tsshimctl', bundle, debug: o.debug,
    };
    const sink = new EventRecorder((e) => o.printEvents && out.events(e));
    // The -address socket answers too, for a shim that sends events there rather than to TTRPC_ADDRESS.
    await sink.listen(inv.ttrpcAddress);
    await sink.listen(address);
    cleanups.push(() => sink.close());

    const options = o.runtimeConfig
      ? { typeUrl: TypeUrls.RuntimeOptions, value: runtimeOptions(resolve(o.runtimeConfig)) }
      : undefined;
    const optionsAny = options ? encodeAny(options) : new Uint8Array(0);

    const started = await runShimStart(inv, optionsAny, START_TIMEOUT_MS).catch((err: Error) => {
      throw new RunError(`cannot run shim ${binary}: ${err.message}`);
    });
    if (started.exitCode !== 0) {
      const status = started.signal ? `signal ${started.signal}` : `exit status ${started.exitCode}`;
      throw new RunError(`shim ${binary} start failed: ${started.output.trim() || '(no output)'}: ${status}${logFifo.tail()}`);
    }
    // From here on the shim may hold state: containerd's cleanup path runs whatever happens next.
    cleanups.push(async () => {
      const del = await runShimDelete(inv, DELETE_TIMEOUT_MS);
      if (del.exitCode !== 0) out.log(`shim delete failed (${del.exitCode ?? del.signal}): ${del.output.trim()}`);
    });
    let addr;
    try {
      addr = parseStartOutput(started.output);
    } catch (err) {
      throw new RunError(`shim ${binary} start: ${(err as Error).message}`);
    }
    const client = await TaskClient.connect(addr.path, addr.version, o.namespace).catch((err: Error) => {
      throw new RunError(`cannot connect to the shim at ${addr.path}: ${err.message}`);
    });
    let shimPid = 0;
    cleanups.push(async () => {
      await client.call('Shutdown', { id: o.id }, { timeoutMs: 5_000 }).catch(() => {});
      client.close();
      if (shimPid > 0) await waitGone(shimPid, 10_000);
    });
    shimPid = Number((await client.call('Connect', { id: o.id }, { timeoutMs: CALL_TIMEOUT_MS })).shimPid ?? 0);

    const fifos = new StdioFifos(work, o.id, o.tty);
    cleanups.push(async () => fifos.close());
    fifos.attachOutput();

    let created = false;
    let exited = false;
    try {
      await client.call('Create', {
        id: o.id, bundle, rootfs: [], terminal: o.tty,
        stdin: fifos.stdin, stdout: fifos.stdout, stderr: fifos.stderr, options,
      }, { timeoutMs: CALL_TIMEOUT_MS });
      created = true;
      fifos.attachStdin(() => void client.call('CloseIO', { id: o.id, stdin: true }, { timeoutMs: CALL_TIMEOUT_MS }).catch(() => {}));
      const restoreTty = o.tty ? rawTerminal(client, o.id) : () => {};
      cleanups.push(async () => restoreTty());
      const forward = (signal: NodeJS.Signals) => () =>
        void client.call('Kill', { id: o.id, signal: osConstants.signals[signal] }, { timeoutMs: CALL_TIMEOUT_MS }).catch(() => {});
      const onInt = forward('SIGINT');
      const onTerm = forward('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      cleanups.push(async () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      });
      await client.call('Start', { id: o.id }, { timeoutMs: CALL_TIMEOUT_MS });
      fifos.releaseKeepers();
      const waited = await client.call('Wait', { id: o.id });
      exited = true;
      if (!(await fifos.drain(DRAIN_TIMEOUT_MS))) out.log('output FIFOs still open after the exit; some output may be missing');
      return Number(waited.exitStatus ?? 0);
    } catch (err) {
      throw asRunError(err);
    } finally {
      if (created) {
        // A task that did not get to exit (Start failed, we were interrupted) is killed first.
        if (!exited) await client.call('Kill', { id: o.id, signal: 9, all: true }, { timeoutMs: 5_000 }).catch(() => {});
        const deleted = await client.call('Delete', { id: o.id }, { timeoutMs: CALL_TIMEOUT_MS }).then(
          () => true,
          (err: Error) => (out.log(`Delete: ${err.message}`), false),
        );
        // The Go runc shim of containerd 2.x can exit on Shutdown before its /tasks/delete is
        // sent (spec §4.3); waiting for it here keeps the event record complete.
        if (deleted) await sink.waitFor((e) => e.topic === '/tasks/delete', EVENT_WAIT_MS);
      }
    }
  } finally {
    await runCleanups();
  }
}

function asRunError(err: unknown): RunError {
  if (err instanceof RunError) return err;
  const message = err instanceof StatusError ? `${err.message} (${codeName(err.code)})` : (err as Error).message;
  // 127 when the command does not exist, as a shell (and docker run) report it.
  const missing = /executable file not found|no such file or directory/i.test(message);
  return new RunError(message, missing ? 127 : 125);
}

function codeName(code: number): string {
  return Code[code] ?? `code ${code}`;
}

function runtimeOptions(configPath: string): Uint8Array {
  return runtimeoptions.v1.Options.encode({ configPath }).finish();
}

function encodeAny(any: { typeUrl: string; value: Uint8Array }): Uint8Array {
  return google.protobuf.Any.encode(any).finish();
}

/** containerd's `log` FIFO in the bundle: the shim writes its log there; we keep the tail. */
async function shimLog(bundle: string, echo: ((line: string) => void) | undefined) {
  const path = join(bundle, 'log');
  execFileSync('mkfifo', ['-m', '0700', path]);
  const reader = openFifoWriterAsReader(path);
  let tail = '';
  reader.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-4000);
    if (echo) for (const line of text.split('\n')) if (line) echo(`shim: ${line}`);
  });
  reader.on('error', () => {});
  return {
    tail: () => (tail.trim() ? `; shim log: ${tail.trim().split('\n').slice(-5).join(' | ')}` : ''),
    close: () => reader.destroy(),
  };
}

/** O_RDWR: never EOF between writers, never blocks (containerd opens the log the same way). */
function openFifoWriterAsReader(path: string): net.Socket {
  const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  return new net.Socket({ fd, readable: true, writable: false });
}

/** Our terminal in raw mode, its size passed on now and on every SIGWINCH. */
function rawTerminal(client: TaskClient, id: string): () => void {
  const resize = () => {
    if (!process.stdout.isTTY) return;
    void client.call('ResizePty', { id, width: process.stdout.columns, height: process.stdout.rows }, { timeoutMs: 5_000 }).catch(() => {});
  };
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  resize();
  process.on('SIGWINCH', resize);
  return () => {
    process.off('SIGWINCH', resize);
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
  };
}

/** The shim exits after Shutdown; wait for it so nothing of the run outlives us. */
async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
