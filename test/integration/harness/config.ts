export interface DaemonPaths {
  root: string;
  state: string;
  grpc: string;
  ttrpc: string;
  opt: string;
}

export interface ContainerdVersion {
  /** e.g. "1.6.20" (distribution suffixes such as "~ds1" removed) */
  version: string;
  major: number;
  minor: number;
}

/** Parses `containerd --version`, e.g. "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3". */
export function parseContainerdVersion(output: string): ContainerdVersion {
  const fields = output.trim().split(/\s+/);
  for (const f of fields.slice(1)) {
    const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(f);
    if (m) return { version: `${m[1]}.${m[2]}.${m[3]}`, major: Number(m[1]), minor: Number(m[2]) };
  }
  throw new Error(`cannot find a version in containerd --version output: ${JSON.stringify(output)}`);
}

// Plugins that either need host setup we do not have (devmapper, zfs, btrfs, aufs, blockfile,
// erofs) or touch host-wide state (CRI: CNI, /var/lib/kubelet paths; NRI: a socket under
// /var/run/nri). Unknown ids are ignored by every containerd version, so one list serves 1.6,
// 1.7 and 2.x. The legacy runtime v1 plugin must stay: the 1.x tasks service requires it.
const DISABLED_PLUGINS = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.cri.v1.images',
  'io.containerd.cri.v1.runtime',
  'io.containerd.podsandbox.controller.v1.podsandbox',
  'io.containerd.nri.v1.nri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.blockfile',
  'io.containerd.snapshotter.v1.erofs',
];

// Enabled only for a daemon started with CRI settings, in its own mount namespace (see cri-env.ts).
const CRI_PLUGINS = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.cri.v1.images',
  'io.containerd.cri.v1.runtime',
  'io.containerd.podsandbox.controller.v1.podsandbox',
];

function q(s: string): string {
  return JSON.stringify(s);
}

/**
 * containerd 1.x reads config `version = 2`; 2.x reads `version = 3` (it migrates older
 * versions too, but logs about it and renames plugin sections, so we write its own format).
 * `cri` enables the CRI plugins and is appended verbatim: plugin tables in the version's format.
 */
export function renderConfig(v: ContainerdVersion, p: DaemonPaths, debug: boolean, cri?: string): string {
  const disabled = cri === undefined ? DISABLED_PLUGINS : DISABLED_PLUGINS.filter((id) => !CRI_PLUGINS.includes(id));
  const lines = [
    `version = ${v.major >= 2 ? 3 : 2}`,
    `root = ${q(p.root)}`,
    `state = ${q(p.state)}`,
    `disabled_plugins = [${disabled.map(q).join(', ')}]`,
    '',
    '[grpc]',
    `  address = ${q(p.grpc)}`,
    '',
    '[ttrpc]',
    `  address = ${q(p.ttrpc)}`,
    '',
    '[debug]',
    `  level = ${q(debug ? 'debug' : 'info')}`,
    '',
    // The default opt path is /opt/containerd, which containerd creates on the host at start.
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(p.opt)}`,
    '',
  ];
  if (cri !== undefined) lines.push(cri);
  return lines.join('\n');
}
