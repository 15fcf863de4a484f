/**
 * What distinguishes one runc-compatible CLI from another. The driver builds one argv shape
 * (runc's); a dialect only says which commands and command flags the runtime lacks, so an
 * unsupported request fails before anything is spawned instead of as a cryptic usage error.
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
  /** Command flags the runtime rejects, by command. */
  readonly unsupportedFlags: Readonly<Partial<Record<RuntimeCommand, ReadonlySet<string>>>>;
}

const ALL_COMMANDS: readonly RuntimeCommand[] = [
  'create', 'start', 'exec', 'kill', 'delete', 'pause', 'resume', 'ps', 'update', 'checkpoint', 'restore',
];

const runc: Dialect = { name: 'runc', commands: new Set(ALL_COMMANDS), unsupportedFlags: {} };

// crun only has checkpoint/restore when built with libcriu (Debian's 1.8.1 answers
// "unknown command checkpoint"); upstream builds have them, so the runtime's own error is
// the honest answer there.
const crun: Dialect = { name: 'crun', commands: new Set(ALL_COMMANDS), unsupportedFlags: {} };

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
};

export const DIALECTS = { runc, crun, runsc } as const;

export type DialectName = keyof typeof DIALECTS;

export const DIALECT_NAMES = Object.keys(DIALECTS) as DialectName[];

export function isDialectName(name: string): name is DialectName {
  return Object.hasOwn(DIALECTS, name);
}
