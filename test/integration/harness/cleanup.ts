// Synchronous on purpose: the same code serves stop() and the process-exit fallback, where
// nothing asynchronous can run any more.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LeftoverProcess {
  pid: number;
  cmdline: string;
}

export interface Leftovers {
  processes: LeftoverProcess[];
  mounts: string[];
  dirExists: boolean;
}

// runc and umount live in sbin directories, which a CI runner's PATH may lack.
const toolEnv: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: [process.env['PATH'], '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].filter(Boolean).join(':'),
};

function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + '/');
}

// mountinfo escapes space, tab, newline and backslash as octal.
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points at or below dir, in mount order (parents before children). */
export function mountsUnder(dir: string): string[] {
  const info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .filter(Boolean)
    .map((l) => unescapeMountPath(l.split(' ')[4]!))
    .filter((mp) => within(mp, dir));
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

function cmdlineOf(pid: number): string {
  return (readProc(pid, 'cmdline') ?? '').split('\0').filter(Boolean).join(' ');
}

interface ProcStat {
  pid: number;
  ppid: number;
  state: string;
  /** clock ticks since boot */
  startTime: number;
}

function statOf(pid: number): ProcStat | undefined {
  const s = readProc(pid, 'stat');
  if (!s) return undefined;
  // comm may contain spaces and parentheses; the fields after the last ')' are fixed.
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0]!, ppid: Number(rest[1]), startTime: Number(rest[19]) };
}

function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

function alive(pid: number): boolean {
  const st = statOf(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/**
 * Live processes that belong to the daemon rooted at dir: anything whose working directory
 * is under dir (shims run in their bundle) or whose argv names a path under dir (containerd,
 * shims via -address, runc via --log/bundle paths), plus all their descendants (container
 * processes, which know nothing about dir).
 */
export function processesUnder(dir: string): LeftoverProcess[] {
  const stats = allPids()
    .filter((p) => p !== process.pid)
    .map(statOf)
    .filter((s): s is ProcStat => s !== undefined && s.state !== 'Z' && s.state !== 'X');
  const owned = new Set<number>();
  for (const { pid } of stats) {
    let cwd = '';
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // kernel threads and processes that vanished have no readable cwd
    }
    const argv = (readProc(pid, 'cmdline') ?? '').split('\0');
    if (within(cwd, dir) || argv.some((a) => a.includes(dir + '/') || a === dir)) owned.add(pid);
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of stats) {
      if (!owned.has(s.pid) && owned.has(s.ppid)) {
        owned.add(s.pid);
        grew = true;
      }
    }
  }
  return [...owned].map((pid) => ({ pid, cmdline: cmdlineOf(pid) }));
}

export function findLeftovers(dir: string): Leftovers {
  return { processes: processesUnder(dir), mounts: mountsUnder(dir), dirExists: fs.existsSync(dir) };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** SIGKILLs the given pids and waits (bounded) until they are gone or zombies. */
export function killAndWait(pids: number[], timeoutMs = 5000): number[] {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  let remaining = pids.filter(alive);
  while (remaining.length > 0 && Date.now() < deadline) {
    sleepSync(20);
    remaining = remaining.filter(alive);
  }
  return remaining;
}

export interface TaskBundle {
  namespace: string;
  id: string;
  bundle: string;
}

/** Task bundles containerd left in its state dir (normally none after a clean shutdown of all tasks). */
export function taskBundles(stateDir: string): TaskBundle[] {
  const base = path.join(stateDir, 'io.containerd.runtime.v2.task');
  const out: TaskBundle[] = [];
  for (const ns of safeReaddir(base)) {
    for (const id of safeReaddir(path.join(base, ns))) out.push({ namespace: ns, id, bundle: path.join(base, ns, id) });
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * A container whose shim was killed keeps running, reparented away from the shim. Its init pid
 * is in the bundle; we only trust it if that process started after our daemon did (so the pid
 * was not recycled by an unrelated process) and sits in a cgroup named after the task id.
 */
export function orphanedContainerInits(bundles: TaskBundle[], daemonStartTicks: number): number[] {
  const pids: number[] = [];
  for (const b of bundles) {
    const pid = Number(safeRead(path.join(b.bundle, 'init.pid')));
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = statOf(pid);
    if (!st || st.startTime < daemonStartTicks) continue;
    const cgroups = readProc(pid, 'cgroup') ?? '';
    if (cgroups.split('\n').some((l) => l.endsWith(`/${b.id}`))) pids.push(pid);
  }
  return pids;
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

export function startTicks(pid: number): number {
  return statOf(pid)?.startTime ?? 0;
}

/**
 * runc keeps per-container state (and the container's cgroups) outside containerd's dirs, in
 * <runc root>/<namespace>/<id>. If the shim died before deleting its container, remove that
 * state — but only when runc's record shows the container's bundle under our dir.
 */
export function forceDeleteRuncState(bundles: TaskBundle[], dir: string): void {
  for (const b of bundles) {
    const roots = new Set<string>(['/run/containerd/runc']);
    try {
      const opts = JSON.parse(safeRead(path.join(b.bundle, 'options.json')) || '{}') as { root?: string };
      if (opts.root) roots.add(opts.root);
    } catch {
      // unreadable options: only the default root is tried
    }
    for (const root of roots) {
      const nsRoot = path.join(root, b.namespace);
      const state = safeRead(path.join(nsRoot, b.id, 'state.json'));
      if (!state || !state.includes(dir + '/')) continue;
      const binary = safeRead(path.join(b.bundle, 'runtime')) || 'runc';
      spawnSync(binary, ['--root', nsRoot, 'delete', '--force', b.id], { stdio: 'ignore', timeout: 10_000, env: toolEnv });
    }
  }
}

export interface TaskRef {
  namespace: string;
  id: string;
}

/**
 * Tasks named in containerd's log: a task whose shim died is already gone from containerd's
 * state and bundles by the time we stop, but the log still says which it was.
 */
export function tasksInLog(log: string): TaskRef[] {
  const out: TaskRef[] = [];
  for (const line of log.split('\n')) {
    const id = / id="?([^"\s]+)/.exec(line)?.[1];
    const ns = / namespace="?([^"\s]+)/.exec(line)?.[1];
    if (id && ns) out.push({ namespace: ns, id });
    const bundle = /io\.containerd\.runtime\.v2\.task\/([^/\s"]+)\/([^/\s"]+)/.exec(line);
    if (bundle) out.push({ namespace: bundle[1]!, id: bundle[2]! });
  }
  return out;
}

/**
 * The Go runc shim listens on /run/containerd/s/<sha256 of "<grpc address>/<ns>/<id>">, outside
 * our dir, and a killed shim leaves that socket behind. The grpc address is unique to our
 * daemon, so these names cannot belong to anyone else's shim.
 */
export function removeShimSockets(grpcAddress: string, tasks: TaskRef[]): void {
  for (const t of tasks) {
    const hex = createHash('sha256').update(path.join(grpcAddress, t.namespace, t.id)).digest('hex');
    const sock = path.join('/run/containerd/s', hex);
    try {
      if (fs.lstatSync(sock).isSocket()) fs.unlinkSync(sock);
    } catch {
      // not there
    }
  }
}

/** Unmounts everything at or under dir, children first; lazily if a mount is busy. */
export function unmountAll(dir: string): string[] {
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(dir).reverse();
    if (mounts.length === 0) return [];
    for (const mp of mounts) {
      const r = spawnSync('umount', [mp], { stdio: 'ignore', timeout: 10_000, env: toolEnv });
      if (r.status !== 0) spawnSync('umount', ['-l', mp], { stdio: 'ignore', timeout: 10_000, env: toolEnv });
    }
  }
  return mountsUnder(dir);
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
