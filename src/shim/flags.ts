// Command-line parsing with Go `flag` package semantics, because containerd builds the shim's argv
// for Go shims: `-flag value`, `-flag=value`, `--flag`, booleans without a value, and parsing stops
// at the first word that is not a flag: that word is the action (`start`, `delete`) or absent (serve).

import { identifierProblem } from '../api/identifiers.js';

export interface ShimFlags {
  namespace: string;
  id: string;
  address: string;
  publishBinary: string;
  bundle: string;
  socket: string;
  debugSocket: string;
  debug: boolean;
  version: boolean;
  info: boolean;
  action: string;
  /** Words after the action, kept for diagnostics. */
  rest: string[];
}

const STRING_FLAGS: Record<string, keyof ShimFlags> = {
  namespace: 'namespace',
  id: 'id',
  address: 'address',
  'publish-binary': 'publishBinary',
  bundle: 'bundle',
  socket: 'socket',
  'debug-socket': 'debugSocket',
};

const BOOL_FLAGS: Record<string, keyof ShimFlags> = {
  debug: 'debug',
  v: 'version',
  info: 'info',
};

export class FlagError extends Error {}

function parseBool(name: string, value: string): boolean {
  // strconv.ParseBool accepts exactly these spellings.
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new FlagError(`invalid boolean value "${value}" for -${name}`);
}

export function parseFlags(argv: readonly string[]): ShimFlags {
  const flags: ShimFlags = {
    namespace: '', id: '', address: '', publishBinary: '', bundle: '', socket: '', debugSocket: '',
    debug: false, version: false, info: false, action: '', rest: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.length < 2 || arg[0] !== '-') break;
    if (arg === '--') { i++; break; }
    let name = arg.slice(arg[1] === '-' ? 2 : 1);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new FlagError(`bad flag syntax: ${arg}`);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const boolKey = BOOL_FLAGS[name];
    if (boolKey) {
      (flags as unknown as Record<string, unknown>)[boolKey] = value === undefined ? true : parseBool(name, value);
      continue;
    }
    const strKey = STRING_FLAGS[name];
    if (!strKey) throw new FlagError(`flag provided but not defined: -${name}`);
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
      value = argv[++i];
    }
    (flags as unknown as Record<string, unknown>)[strKey] = value;
  }
  flags.action = argv[i] ?? '';
  flags.rest = argv.slice(i + 1);
  return flags;
}

/**
 * Why -namespace or -id is unusable, or undefined. Both become socket names and paths (the runtime's
 * state dir, the socket hash input, log files), so anything containerd would not accept as an
 * identifier is refused before the shim creates or touches anything.
 */
export function identifierFlagProblem(flags: Pick<ShimFlags, 'namespace' | 'id'>): string | undefined {
  for (const [flag, value] of [['namespace', flags.namespace], ['id', flags.id]] as const) {
    const problem = identifierProblem(value);
    if (problem) return `invalid -${flag}: ${problem}`;
  }
  return undefined;
}
