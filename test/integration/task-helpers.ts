// Helpers shared by the Task API tests (exec, task control, checkpoint): detached containers
// through ctr, and a direct line to a task's shim for what ctr cannot express.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TypeUrls } from '../../src/api/any.js';
import { containerd } from '../../src/api/gen/proto.js';
import { TtrpcClient } from '../../src/ttrpc/index.js';
import { uniqueId } from './harness/index.js';
import { bundleDir, RUNTIME, type TsshimEnv } from './tsshim-env.js';

export const TASK_SERVICE = 'containerd.task.v2.Task';
export const T = containerd.task.v2;

/** A task started with `ctr run -d`; remove() kills and deletes it whatever state it is in. */
export interface DetachedTask {
  id: string;
  pid: number;
  remove(): Promise<void>;
}

export async function runDetached(env: TsshimEnv, cmd: string[], opts: { prefix?: string; flags?: string[] } = {}): Promise<DetachedTask> {
  const id = uniqueId(opts.prefix ?? 'task');
  const r = await env.c.ctr(['run', '-d', '--runtime', RUNTIME, ...(opts.flags ?? []), env.image, id, ...cmd]);
  if (r.code !== 0) throw new Error(`ctr run -d ${id} failed (${r.code}): ${r.stderr}`);
  const pid = await taskPid(env, id);
  return {
    id,
    pid,
    async remove() {
      await env.c.ctr(['task', 'resume', id]);
      await env.c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await eventually(async () => (await taskStatus(env, id)) !== 'RUNNING');
      await env.c.ctr(['task', 'delete', id]);
      await env.c.ctr(['container', 'delete', id]);
    },
  };
}

/** The task's row in `ctr task ls`: [pid, status], or undefined when there is no task. */
async function taskRow(env: TsshimEnv, id: string): Promise<[number, string] | undefined> {
  const ls = (await env.c.ctr(['task', 'ls'])).stdout.toString();
  const m = new RegExp(`^${id}\\s+(\\d+)\\s+(\\S+)`, 'm').exec(ls);
  return m ? [Number(m[1]), m[2]!] : undefined;
}

export async function taskStatus(env: TsshimEnv, id: string): Promise<string | undefined> {
  return (await taskRow(env, id))?.[1];
}

async function taskPid(env: TsshimEnv, id: string): Promise<number> {
  const row = await taskRow(env, id);
  if (!row) throw new Error(`no task ${id} in ctr task ls`);
  return row[0];
}

/** A ttrpc connection to the shim serving task `id`, found through the bundle's address file. */
export async function shimClient(env: TsshimEnv, id: string): Promise<ShimClient> {
  const address = readFileSync(join(bundleDir(env.c, id), 'address'), 'utf8');
  return new ShimClient(await TtrpcClient.connect(address.replace(/^unix:\/\//, '')));
}

export class ShimClient {
  constructor(readonly ttrpc: TtrpcClient) {}

  async call<Res>(method: string, req: Uint8Array, res?: { decode(b: Uint8Array): Res }): Promise<Res | undefined> {
    const bytes = await this.ttrpc.call(TASK_SERVICE, method, req, { timeoutMs: 10_000 });
    return res?.decode(bytes);
  }

  /** The error a call fails with, as { code, message }; throws if the call succeeds. */
  async failure(method: string, req: Uint8Array): Promise<{ code: number; message: string }> {
    try {
      await this.ttrpc.call(TASK_SERVICE, method, req, { timeoutMs: 10_000 });
    } catch (err) {
      const e = err as { code: number; message: string };
      return { code: e.code, message: e.message };
    }
    throw new Error(`${method} succeeded`);
  }

  async shimPid(id: string): Promise<number> {
    return (await this.call('Connect', T.ConnectRequest.encode({ id }).finish(), T.ConnectResponse))!.shimPid;
  }

  close(): void {
    this.ttrpc.close();
  }
}

export async function eventually(pred: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An Exec request's process spec, as containerd sends it (JSON in an Any). */
export function processSpec(args: string[]): { typeUrl: string; value: Uint8Array } {
  const spec = { args, cwd: '/', env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], user: { uid: 0, gid: 0 } };
  return { typeUrl: TypeUrls.OciProcess, value: Buffer.from(JSON.stringify(spec)) };
}

/**
 * A bundle containerd knows nothing about, for tasks created straight through a shim's socket
 * (ctr always starts what it creates). It reuses the config and the mounted rootfs of a task
 * containerd made, read-only, in a cgroup of its own.
 */
export function siblingBundle(env: TsshimEnv, of: string, id: string): { bundle: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tss-bundle-'));
  const bundle = join(dir, id);
  mkdirSync(bundle);
  const source = bundleDir(env.c, of);
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8'));
  config.root = { path: join(source, 'rootfs'), readonly: true };
  config.linux.cgroupsPath = `/${env.c.namespace}/${id}`;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
  return { bundle, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
