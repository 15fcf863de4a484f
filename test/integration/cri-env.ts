// A private containerd with its CRI plugin, driven the way kubelet drives it: the handlers and
// tsshim config files come verbatim from docs/kubernetes/, the sandbox image is built locally
// from busybox, pods use the host network.
//
// containerd and everything it starts run in a private mount namespace with its own tmpfs on
// /run (shim sockets and runc state do not follow containerd's state dir) and the docs' tsshim
// files bound onto /etc/tsshim, where the handlers' ConfigPath expects them. A holder process
// keeps that namespace, so a restarted containerd finds the same /run, as on a real node.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ensurePauseImage, PAUSE_REF } from '../../scripts/make-busybox-image.mjs';
import { busyboxImage, cacheDir, containerdVersion, packagedShimDir, projectDir, startContainerd, type Containerd } from './harness/index.js';
import { CriClient, type Msg } from './cri-client.js';

export const DOCS_DIR = path.join(projectDir(), 'docs/kubernetes');

/** A file of docs/kubernetes, as the docs show it. */
export function docsFile(name: string): string {
  return fs.readFileSync(path.join(DOCS_DIR, name), 'utf8');
}

export interface CriEnvOptions {
  /** dirs put first on containerd's (and so the shims' and runtimes') PATH, e.g. stand-in runtimes */
  pathPrepend?: string[];
  /**
   * Handlers beyond the docs', for bad input: handler name → the tsshim file its ConfigPath
   * (/etc/tsshim/<name>.toml) names.
   */
  extraHandlers?: Record<string, string>;
}

export interface PodOptions {
  /** CRI runtime_handler; '' is containerd's default (the Go runc shim) */
  handler: string;
  annotations?: Record<string, string>;
  /** pid namespace of the pod: 'POD' shares one among its containers (shareProcessNamespace) */
  pidMode?: 'POD' | 'CONTAINER';
}

export interface Pod {
  id: string;
  name: string;
  uid: string;
  /** the PodSandboxConfig it was created with; CreateContainer needs it again */
  config: Msg;
  logDir: string;
  cgroupParent: string;
}

export interface ContainerOptions {
  env?: Record<string, string>;
  memoryLimitBytes?: number;
  annotations?: Record<string, string>;
}

export interface CriEnv {
  c: Containerd;
  cri: CriClient;
  image: string;
  /** the containerd config's version: 2 for 1.6/1.7, 3 for 2.x */
  configVersion: 2 | 3;
  /** RunPodSandbox with a PodSandboxConfig as kubelet builds it for a hostNetwork pod */
  runPod(name: string, opts: PodOptions): Promise<Pod>;
  /** ContainerConfig as kubelet builds it; CreateContainer then StartContainer, as kubelet does */
  startContainer(pod: Pod, name: string, command: string[], opts?: ContainerOptions): Promise<string>;
  createContainer(pod: Pod, name: string, command: string[], opts?: ContainerOptions): Promise<string>;
  /** ContainerStatus polled until its state is `state` */
  waitContainer(id: string, state: 'CONTAINER_RUNNING' | 'CONTAINER_EXITED', timeoutMs?: number): Promise<Msg>;
  /** kubelet's pod teardown: StopContainer, RemoveContainer for each, StopPodSandbox, RemovePodSandbox */
  removePod(pod: Pod): Promise<void>;
  /**
   * Restarts containerd (same config, root, state and mount namespace) and waits until its CRI
   * plugin has recovered its pods and answers, as kubelet waits for the runtime to be ready.
   */
  restart(): Promise<void>;
  /** removePod for every pod still there */
  removeAllPods(): Promise<void>;
  /** the CRI log file of a container */
  logFile(pod: Pod, name: string): string;
  /** live shim processes of this containerd (tsshim's and the Go runc shim's) */
  shimProcesses(): number[];
  /** what a pod left: shims, mounts, bundles, processes in its cgroups, sockets (empty when clean) */
  leftovers(): string[];
  /** a cgroup v1 file of a pod's container, e.g. ('memory', id, 'memory.limit_in_bytes') */
  cgroupFile(pod: Pod, containerId: string, controller: string, file: string): string;
  stop(): Promise<void>;
}

const CGROUP_V1 = '/sys/fs/cgroup';

function baseCriConfig(version: 2 | 3, sandboxSnippet: string, cniDir: string): string {
  if (version === 2) {
    // The sandbox snippet ends inside [plugins."io.containerd.grpc.v1.cri"]: these keys join it.
    return [
      sandboxSnippet.trimEnd(),
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      // root here lacks CAP_SYS_RESOURCE, so the sandbox's oom_score_adj of -998 is refused
      '  restrict_oom_score_adj = true',
      '  disable_apparmor = true',
      '  [plugins."io.containerd.grpc.v1.cri".containerd]',
      '    snapshotter = "overlayfs"',
      '    default_runtime_name = "runc"',
      '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '      runtime_type = "io.containerd.runc.v2"',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      '    bin_dir = "/usr/lib/cni"',
      `    conf_dir = ${JSON.stringify(cniDir)}`,
      '',
    ].join('\n');
  }
  return [
    sandboxSnippet.trimEnd(),
    '',
    '[plugins."io.containerd.cri.v1.images"]',
    '  snapshotter = "overlayfs"',
    '',
    '[plugins."io.containerd.grpc.v1.cri"]',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '',
    '[plugins."io.containerd.cri.v1.runtime"]',
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    '  [plugins."io.containerd.cri.v1.runtime".containerd]',
    '    default_runtime_name = "runc"',
    '    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]',
    '      runtime_type = "io.containerd.runc.v2"',
    '  [plugins."io.containerd.cri.v1.runtime".cni]',
    '    bin_dirs = ["/usr/lib/cni"]',
    `    conf_dir = ${JSON.stringify(cniDir)}`,
    '',
  ].join('\n');
}

/** The image a sandbox snippet of the docs names. */
export function sandboxImageOf(snippet: string): string {
  const m = /^\s*(?:sandbox_image|sandbox)\s*=\s*"([^"]+)"/m.exec(snippet);
  if (!m) throw new Error(`no sandbox image in:\n${snippet}`);
  return m[1]!;
}

/** Starts the holder of the private mount namespace; resolves once its mounts are in place. */
async function startNamespaceHolder(etcDir: string): Promise<ChildProcess> {
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    // the mount point must exist; on a host without tsshim this leaves an empty /etc/tsshim
    '[ -d /etc/tsshim ] || mkdir /etc/tsshim',
    `mount --bind ${JSON.stringify(etcDir)} /etc/tsshim`,
    'echo ready',
    // lives as long as the test process: its stdin ends when the test process does
    'exec cat >/dev/null',
  ].join('\n');
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  holder.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`mount namespace set-up failed (${code}): ${stderr}`)));
    holder.once('error', reject);
  });
  return holder;
}

function readOr(file: string, fallback = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function listOr(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** cgroup dirs at and below dir, deepest first. */
function cgroupDirs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...cgroupDirs(path.join(dir, e.name)));
  out.push(dir);
  return out;
}

/**
 * Every cgroup hierarchy under /sys/fs/cgroup: the v1 controllers and, on a hybrid host, the
 * unified v2 tree, where runc creates the pod's cgroups too. Co-mounted controllers appear once
 * (the "cpu,cpuacct" dir; "cpu" and "cpuacct" are symlinks to it).
 */
function controllers(): string[] {
  return listOr(CGROUP_V1).filter((c) => !fs.lstatSync(path.join(CGROUP_V1, c)).isSymbolicLink() && fs.statSync(path.join(CGROUP_V1, c)).isDirectory());
}

export async function startCriEnv(opts: CriEnvOptions = {}): Promise<CriEnv> {
  const v = await containerdVersion();
  const configVersion: 2 | 3 = v.major >= 2 ? 3 : 2;
  const suffix = configVersion === 2 ? '1.x' : '2.x';
  const sandboxSnippet = docsFile(`sandbox-image-${suffix}.toml`);
  if (sandboxImageOf(sandboxSnippet) !== PAUSE_REF) throw new Error(`docs/kubernetes/sandbox-image-${suffix}.toml must name ${PAUSE_REF}`);

  const work = fs.mkdtempSync(path.join(tmpdir(), 'tscri-'));
  const etcDir = path.join(work, 'etc-tsshim');
  const cniDir = path.join(work, 'cni');
  const logRoot = path.join(work, 'pods');
  const socketDir = path.join(work, 's');
  for (const d of [etcDir, cniDir, logRoot]) fs.mkdirSync(d);
  for (const f of fs.readdirSync(path.join(DOCS_DIR, 'tsshim'))) fs.copyFileSync(path.join(DOCS_DIR, 'tsshim', f), path.join(etcDir, f));
  const cgroupRoot = `tsshim-cri-${process.pid}-${randomUUID().slice(0, 8)}`;

  const runtimes = configVersion === 2 ? 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes' : 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes';
  const extra = Object.entries(opts.extraHandlers ?? {}).map(([name, toml]) => {
    fs.writeFileSync(path.join(etcDir, `${name}.toml`), toml);
    return `[${runtimes}.${name}]\n  runtime_type = "io.containerd.tsshim.v2"\n  [${runtimes}.${name}.options]\n    ConfigPath = "/etc/tsshim/${name}.toml"\n`;
  });
  const criConfig = [
    baseCriConfig(configVersion, sandboxSnippet, cniDir),
    docsFile(`containerd-${suffix}.toml`),
    docsFile(`containerd-${suffix}-annotations.toml`),
    ...extra,
  ].join('\n');

  let holder: ChildProcess | undefined;
  let c: Containerd | undefined;
  let cri: CriClient | undefined;
  const cleanupCgroups = () => {
    for (const ctl of controllers()) for (const d of cgroupDirs(path.join(CGROUP_V1, ctl, cgroupRoot))) fs.rmdirSync(d, { maxRetries: 5 } as fs.RmDirOptions);
  };
  const teardown = async () => {
    cri?.close();
    try {
      await c?.stop();
    } finally {
      holder?.stdin?.end();
      cleanupCgroups();
      fs.rmSync(work, { recursive: true, force: true });
    }
  };

  try {
    holder = await startNamespaceHolder(etcDir);
    c = await startContainerd({
      namespace: 'k8s.io',
      criConfig,
      launchPrefix: ['nsenter', `--target=${holder.pid}`, '--mount', '--'],
      pathPrepend: [packagedShimDir(), ...(opts.pathPrepend ?? [])],
      env: { TSSHIM_SOCKET_DIR: socketDir },
    });
    cri = new CriClient(c.address);
    await criReady(cri);
    const image = await busyboxImage(c);
    const pause = await ensurePauseImage({ cacheDir: cacheDir() });
    const r = await c.ctr(['images', 'import', pause.imageTar], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`importing the pause image failed: ${r.stderr}`);
    return makeEnv(c, cri, image, configVersion, holder, { logRoot, socketDir, cgroupRoot }, teardown);
  } catch (err) {
    await teardown().catch(() => {});
    throw err;
  }
}

/**
 * Polls the CRI Status call until the runtime condition is ready: containerd's CRI plugin
 * answers "server is not initialized yet" while it loads (or, after a restart, recovers) its
 * pods and containers.
 */
async function criReady(cri: CriClient, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let why: string;
    try {
      const r = await cri.call('Status', {}, 10_000);
      const conditions = (r['status']?.conditions ?? []) as Msg[];
      if (conditions.some((c) => c['type'] === 'RuntimeReady' && c['status'])) return;
      why = JSON.stringify(conditions);
    } catch (err) {
      why = String(err);
    }
    if (Date.now() > deadline) throw new Error(`the CRI runtime is not ready after ${timeoutMs} ms: ${why}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface EnvDirs {
  logRoot: string;
  socketDir: string;
  cgroupRoot: string;
}

function makeEnv(c: Containerd, cri: CriClient, image: string, configVersion: 2 | 3, holder: ChildProcess, dirs: EnvDirs, teardown: () => Promise<void>): CriEnv {
  const pods = new Map<string, Pod>();

  const containerConfig = (pod: Pod, name: string, command: string[], o: ContainerOptions = {}): Msg => ({
    metadata: { name, attempt: 0 },
    image: { image },
    command,
    args: [],
    working_dir: '',
    envs: Object.entries(o.env ?? {}).map(([key, value]) => ({ key, value })),
    mounts: [],
    devices: [],
    labels: {
      'io.kubernetes.container.name': name,
      'io.kubernetes.pod.name': pod.name,
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.uid': pod.uid,
    },
    annotations: {
      'io.kubernetes.container.hash': '1',
      'io.kubernetes.container.restartCount': '0',
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.container.terminationMessagePolicy': 'File',
      'io.kubernetes.pod.terminationGracePeriod': '30',
      ...o.annotations,
    },
    log_path: `${name}/0.log`,
    stdin: false,
    stdin_once: false,
    tty: false,
    linux: {
      resources: {
        cpu_period: '100000',
        cpu_quota: '0',
        cpu_shares: '2',
        memory_limit_in_bytes: String(o.memoryLimitBytes ?? 0),
        oom_score_adj: '1000',
        hugepage_limits: [],
      },
      security_context: {
        namespace_options: { network: 'NODE', pid: pod.config['linux'].security_context.namespace_options.pid, ipc: 'POD' },
        masked_paths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
        readonly_paths: ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
        seccomp: { profile_type: 'Unconfined' },
      },
    },
  });

  const createContainer = async (pod: Pod, name: string, command: string[], o?: ContainerOptions) => {
    fs.mkdirSync(path.join(pod.logDir, name), { recursive: true });
    const r = await cri.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(pod, name, command, o), sandbox_config: pod.config });
    return r['container_id'] as string;
  };

  const env: CriEnv = {
    c,
    cri,
    image,
    configVersion,
    async runPod(name, o) {
      const uid = randomUUID();
      const logDir = path.join(dirs.logRoot, `default_${name}_${uid}`);
      fs.mkdirSync(logDir, { recursive: true });
      const cgroupParent = `/${dirs.cgroupRoot}/pod${uid}`;
      // kubelet leaves out the hostname of a hostNetwork pod: it shares the host's UTS namespace
      const config: Msg = {
        metadata: { name, uid, namespace: 'default', attempt: 0 },
        log_directory: logDir,
        dns_config: { servers: [], searches: [], options: [] },
        port_mappings: [],
        labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid },
        annotations: { 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.seen': new Date().toISOString(), ...o.annotations },
        linux: {
          cgroup_parent: cgroupParent,
          sysctls: {},
          security_context: {
            namespace_options: { network: 'NODE', pid: o.pidMode ?? 'CONTAINER', ipc: 'POD' },
            privileged: false,
            seccomp: { profile_type: 'Unconfined' },
          },
        },
      };
      const r = await cri.call('RunPodSandbox', { config, runtime_handler: o.handler });
      const pod: Pod = { id: r['pod_sandbox_id'], name, uid, config, logDir, cgroupParent };
      pods.set(pod.id, pod);
      return pod;
    },
    createContainer,
    async startContainer(pod, name, command, o) {
      const id = await createContainer(pod, name, command, o);
      await cri.call('StartContainer', { container_id: id });
      return id;
    },
    async waitContainer(id, state, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = (await cri.call('ContainerStatus', { container_id: id }))['status'] as Msg;
        if (s['state'] === state) return s;
        if (Date.now() > deadline) throw new Error(`container ${id} is ${s['state']}, not ${state}, after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async removePod(pod) {
      const { containers } = await cri.call('ListContainers', { filter: { pod_sandbox_id: pod.id } });
      for (const ct of containers as Msg[]) {
        await cri.call('StopContainer', { container_id: ct['id'], timeout: '10' });
        await cri.call('RemoveContainer', { container_id: ct['id'] });
      }
      await cri.call('StopPodSandbox', { pod_sandbox_id: pod.id });
      await cri.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
      pods.delete(pod.id);
      // The pod's shim (started with the sandbox id) exits once it has answered the last Shutdown
      // and flushed its events: give it that moment, so that what is left afterwards stays.
      const podShim = () => env.shimProcesses().some((p) => readOr(`/proc/${p}/cmdline`).split('\0').includes(pod.id));
      const deadline = Date.now() + 10_000;
      while (podShim() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
    async restart() {
      await c.restart();
      await criReady(cri);
    },
    async removeAllPods() {
      for (const pod of [...pods.values()]) await env.removePod(pod).catch(() => {});
    },
    logFile(pod, name) {
      return path.join(pod.logDir, name, '0.log');
    },
    shimProcesses() {
      const pids: number[] = [];
      for (const p of listOr('/proc')) {
        if (!/^\d+$/.test(p) || Number(p) === c.pid) continue;
        const cmd = readOr(`/proc/${p}/cmdline`);
        if (cmd.includes(c.address) && (cmd.includes('shim.cjs') || cmd.includes('containerd-shim'))) pids.push(Number(p));
      }
      return pids;
    },
    leftovers() {
      const out: string[] = [];
      for (const pid of env.shimProcesses()) out.push(`shim ${pid}: ${readOr(`/proc/${pid}/cmdline`).split('\0').join(' ')}`);
      for (const line of readOr(`/proc/${holder.pid}/mountinfo`).split('\n')) {
        const mp = line.split(' ')[4];
        if (mp && mp.startsWith(c.dir + '/')) out.push(`mount ${mp}`);
      }
      for (const b of listOr(path.join(c.dir, 'state/io.containerd.runtime.v2.task/k8s.io'))) out.push(`bundle ${b}`);
      for (const ctl of controllers()) {
        for (const d of cgroupDirs(path.join(CGROUP_V1, ctl, dirs.cgroupRoot))) {
          const procs = readOr(path.join(d, 'cgroup.procs')).trim();
          if (procs) out.push(`processes ${procs.split('\n').join(',')} in cgroup ${d}`);
        }
      }
      for (const s of listOr(dirs.socketDir)) out.push(`tsshim socket ${s}`);
      for (const s of listOr(`/proc/${holder.pid}/root/run/containerd/s`)) out.push(`containerd shim socket ${s}`);
      return out;
    },
    cgroupFile(pod, containerId, controller, file) {
      return readOr(path.join(CGROUP_V1, controller, pod.cgroupParent, containerId, file)).trim();
    },
    async stop() {
      try {
        await env.removeAllPods();
      } finally {
        await teardown();
      }
    },
  };
  return env;
}
