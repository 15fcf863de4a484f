// Shared set-up for tests that run containers through tsshim: a private containerd that finds
// containerd-shim-tsshim-v2 on its PATH, a private shim socket directory and a tsshim config file.
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxImage, packagedShimDir, startContainerd, type Containerd, type StartOptions } from './harness/index.js';

export const RUNTIME = 'io.containerd.tsshim.v2';

export const DEFAULT_CONFIG = `
default_runtime = "runc"

[runtimes.runc]
binary = "runc"

[runtimes.crun]
binary = "crun"
root = "/run/tsshim-test/crun"

[runtimes.runsc]
binary = "runsc"
root = "/run/tsshim-test/runsc"
[runtimes.runsc.options]
platform = "ptrace"
network = "none"
# The gVisor sandbox builds its chroot under $TMPDIR after dropping to uid 65534, and the
# test containerd's TMPDIR is a private 0700 directory it cannot enter.
[runtimes.runsc.env]
TMPDIR = "/tmp"
`;

export interface TsshimEnv {
  c: Containerd;
  image: string;
  socketDir: string;
  configPath: string;
  /** `ctr run --rm --runtime io.containerd.tsshim.v2 [...flags] <image> <id> <cmd...>` */
  run(id: string, cmd: string[], opts?: { flags?: string[]; input?: string | Buffer; timeoutMs?: number }): ReturnType<Containerd['ctr']>;
  /** Shim daemons still alive for this containerd (their cmdline names its address). */
  shimProcesses(): number[];
  stop(): Promise<void>;
}

export async function startTsshimEnv(opts: { config?: string; start?: StartOptions } = {}): Promise<TsshimEnv> {
  const work = mkdtempSync(join(tmpdir(), 'tss-'));
  const socketDir = join(work, 's');
  const configPath = join(work, 'config.toml');
  writeFileSync(configPath, opts.config ?? DEFAULT_CONFIG);
  const c = await startContainerd({
    ...opts.start,
    pathPrepend: [packagedShimDir(), ...(opts.start?.pathPrepend ?? [])],
    env: { TSSHIM_SOCKET_DIR: socketDir, TSSHIM_CONFIG: configPath, ...opts.start?.env },
  });
  let image: string;
  try {
    image = await busyboxImage(c);
  } catch (err) {
    await c.stop();
    throw err;
  }
  const shimProcesses = () => {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (cmd.includes('shim.cjs') && cmd.includes(c.address)) pids.push(Number(name));
    }
    return pids;
  };
  return {
    c,
    image,
    socketDir,
    configPath,
    run: (id, cmd, o = {}) =>
      c.ctr(['run', '--rm', '--runtime', RUNTIME, ...(o.flags ?? []), image, id, ...cmd], { input: o.input, timeoutMs: o.timeoutMs }),
    shimProcesses,
    async stop() {
      try {
        await c.stop();
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  };
}

/** Bundle directory containerd made for a task (gone once the task is deleted). */
export function bundleDir(c: Containerd, id: string): string {
  return join(c.dir, 'state', 'io.containerd.runtime.v2.task', c.namespace, id);
}

export function socketsLeft(env: TsshimEnv): string[] {
  return existsSync(env.socketDir) ? readdirSync(env.socketDir) : [];
}
