/**
 * What distinguishes one runc-compatible CLI from another. The driver builds one argv shape
 * (runc's); a dialect only says which commands and flags the runtime lacks, so an unsupported
 * request fails before anything is spawned instead of as a cryptic usage error.
 */

export type RuntimeCommand =
  | 'create'
  | 'start'
  | 'exec'
  | 'kill'
  | 'delete'
  | 'pause'
  | 'resume'
  | 'ps'
  | 'update'
  | 'checkpoint'
  | 'restore';

export interface Dialect {
  readonly name: DialectName;
  readonly commands: ReadonlySet<RuntimeCommand>;
  /** Command flags the runtime rejects or ignores to the caller's harm, by command. */
  readonly unsupportedFlags: Readonly<Partial<Record<RuntimeCommand, ReadonlySet<string>>>>;
  /** Whether the runtime has the global `--systemd-cgroup` flag. */
  readonly systemdCgroup: boolean;
  /**
   * Some releases of a runtime have no OCI command line at all. Given the output of
   * `<binary> --version`, says why this release cannot be driven; undefined when it can, or
   * when the output is not understood (the runtime's own errors then speak for it).
   */
  readonly unusableRelease?: (versionOutput: string) => string | undefined;
  /**
   * How the runtime answers a command it does not have. Matched against its error text, so
   * a release that slipped past `unusableRelease` still fails as Unimplemented, with `hint`.
   */
  readonly unknownCommand?: { readonly pattern: RegExp; readonly hint: string };
  /**
   * Whether the OCI annotations name a container that the runtime runs inside its pod's
   * sandbox rather than as a process of its own (see `RuntimeDriver.waitInitExit`).
   */
  readonly inPodSandbox?: (annotations: Readonly<Record<string, string>>) => boolean;
}

export const ALL_COMMANDS: readonly RuntimeCommand[] = [
  'create', 'start', 'exec', 'kill', 'delete', 'pause', 'resume', 'ps', 'update', 'checkpoint', 'restore',
];

const runc: Dialect = { name: 'runc', commands: new Set(ALL_COMMANDS), unsupportedFlags: {}, systemdCgroup: true };

// crun only has checkpoint/restore when built with libcriu (Debian's 1.8.1 answers
// "unknown command checkpoint"); upstream builds have them, so the runtime's own error is
// the honest answer there.
const crun: Dialect = { name: 'crun', commands: new Set(ALL_COMMANDS), unsupportedFlags: {}, systemdCgroup: true };

// containerd's CRI plugin marks a pod's application containers so; the pause container is a
// "sandbox". gVisor's own shim tells them apart by the same annotation.
const CRI_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';

// From `runsc help <command>` (release 20221219): no `update`; create/restore take neither
// --no-pivot nor --no-new-keyring (the sandbox has its own root and keyring); checkpoint only
// knows --image-path, --work-path (ignored) and --leave-running; restore has no --parent-path.
const runsc: Dialect = {
  name: 'runsc',
  commands: new Set(ALL_COMMANDS.filter((c) => c !== 'update')),
  unsupportedFlags: {
    create: new Set(['--no-pivot', '--no-new-keyring']),
    restore: new Set(['--no-pivot', '--parent-path']),
    checkpoint: new Set(['--tcp-established', '--ext-unix-sk', '--shell-job', '--file-locks', '--empty-ns', '--manage-cgroups-mode']),
  },
  systemdCgroup: true,
  // A pod's containers run in the sandbox the pause container booted.
  inPodSandbox: (annotations) => annotations[CRI_CONTAINER_TYPE] === 'container',
};

const KATA_SHIM_HINT = 'run Kata through its own shim, runtime io.containerd.kata.v2';

// kata-runtime 1.x (kata-containers/runtime, cli/): runc's commands without checkpoint and
// restore; create accepts --no-pivot (and ignores it) but has no --no-new-keyring. Its
// `--version` starts with "kata-runtime  : 1.12.1"; 2.x prints the same shape and answers every
// OCI command with `Invalid command "create"` (urfave/cli's CommandNotFound, exit 1).
const KATA_VERSION = /^kata-runtime\s*:\s*(\d+)(\.\S*)?/m;
const kataRuntime: Dialect = {
  name: 'kata-runtime',
  commands: new Set(ALL_COMMANDS.filter((c) => c !== 'checkpoint' && c !== 'restore')),
  unsupportedFlags: { create: new Set(['--no-new-keyring']) },
  systemdCgroup: true,
  unusableRelease: (output) => {
    const m = KATA_VERSION.exec(output);
    if (!m || Number(m[1]) < 2) return undefined;
    return `kata-runtime ${m[1]}${m[2] ?? ''} has no OCI command line (Kata 2.0 removed it); ${KATA_SHIM_HINT}`;
  },
  unknownCommand: { pattern: /^Invalid command "[^"]*"$/, hint: `Kata 2.0 removed the OCI command line; ${KATA_SHIM_HINT}` },
};

// runnc (nabla-containers/runnc, llcli/): only create, start, kill, delete and state; global
// flags --debug, --log, --log-format and --root. create accepts --console-socket but never
// uses it, and a terminal cannot be allocated for a detached container, so a tty request
// is refused here rather than left to fail inside the runtime.
const runnc: Dialect = {
  name: 'runnc',
  commands: new Set<RuntimeCommand>(['create', 'start', 'kill', 'delete']),
  unsupportedFlags: { create: new Set(['--console-socket']) },
  systemdCgroup: false,
};

export const DIALECTS = { runc, crun, runsc, 'kata-runtime': kataRuntime, runnc } as const;

export type DialectName = keyof typeof DIALECTS;

export const DIALECT_NAMES = Object.keys(DIALECTS) as DialectName[];

export function isDialectName(name: string): name is DialectName {
  return Object.hasOwn(DIALECTS, name);
}
