import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { parse, TomlDate, TomlError } from 'smol-toml';
import { Code, StatusError } from '../errors/index.js';
import type { ConfigLocation } from './config-path.js';
import { ALL_COMMANDS, DIALECT_NAMES, DIALECTS, isDialectName, type DialectName, type RuntimeCommand } from './dialects.js';

export interface RuntimeConfig {
  /** The `X` of `[runtimes.X]`; what the runtime annotation names. */
  readonly name: string;
  /** A command name looked up in PATH, or an absolute path. */
  readonly binary: string;
  /** Base of the runtime's `--root`; the containerd namespace is appended. */
  readonly root: string;
  readonly dialect: DialectName;
  /** Extra global flags, verbatim. */
  readonly flags: readonly string[];
  readonly systemdCgroup: boolean;
  /** Extra environment for the runtime binary. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Global flags in gVisor's `[runsc_config]` model, already rendered as flag values:
   * `key = "v"` → `--key=v`, `key = false` → `--key=false`, `key = true` → `--key`.
   */
  readonly options: Readonly<Record<string, string | boolean>>;
}

/**
 * Which tasks one daemon serves: each task its own, the tasks of one pod (or group
 * annotation), or every task of one containerd address and namespace.
 */
export type Grouping = 'task' | 'pod' | 'node';
const GROUPINGS: readonly Grouping[] = ['task', 'pod', 'node'];

export interface ShimConfig {
  /** The file the settings came from; null for the built-in defaults. */
  readonly file: string | null;
  readonly defaultRuntime: string;
  readonly grouping: Grouping;
  /**
   * The packaged binary starts the daemon from the V8 start-up snapshot (faster, ~7 MiB more
   * private memory per daemon). Read by the binary's front end; validated here.
   */
  readonly startupSnapshot: boolean;
  readonly runtimes: ReadonlyMap<string, RuntimeConfig>;
  /** Developer toolkit (docs/toolkit.md): off unless configured. */
  readonly trace?: TraceConfig;
  readonly faults: readonly FaultRule[];
  readonly hooks?: HooksConfig;
}

export interface ConfigProblem {
  readonly file: string;
  /** Dotted path of the offending key, e.g. `runtimes.runsc.options.platform`. */
  readonly key?: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

export interface ConfigReport {
  /** Present only when there are no problems. */
  readonly config?: ShimConfig;
  readonly problems: readonly ConfigProblem[];
  /**
   * Every runtime the document names, also when it has problems (`check` reports them all):
   * null for a table that has problems of its own.
   */
  readonly runtimes?: ReadonlyMap<string, RuntimeConfig | null>;
}

/** The reference shim's runc root, so state stays where containerd's tooling expects it. */
const RUNC_ROOT = '/run/containerd/runc';

const BUILTIN_RUNC: RuntimeConfig = {
  name: 'runc',
  binary: 'runc',
  root: RUNC_ROOT,
  dialect: 'runc',
  flags: [],
  systemdCgroup: false,
  env: {},
  options: {},
};

export const BUILTIN_CONFIG: ShimConfig = {
  file: null,
  defaultRuntime: 'runc',
  grouping: 'pod',
  startupSnapshot: false,
  runtimes: new Map([['runc', BUILTIN_RUNC]]),
  faults: [],
};

/** The driver sets these itself; a second value would silently move state or logs. */
const MANAGED_FLAGS = ['root', 'log', 'log-format', 'systemd-cgroup'];

const TOP_LEVEL_KEYS = ['default_runtime', 'grouping', 'startup_snapshot', 'runtimes', 'trace', 'faults', 'hooks'];
const RUNTIME_KEYS = ['binary', 'root', 'dialect', 'flags', 'systemd_cgroup', 'env', 'options'];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FLAG_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.column}`;
  return p.key === undefined ? `${where}: ${p.message}` : `${where}: ${p.key}: ${p.message}`;
}

/** Parses and validates one TOML document; `file` only labels the problems. */
export function parseConfig(text: string, file: string): ConfigReport {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text, { integersAsBigInt: true, unsafeKeyBehaviour: 'throw' });
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
    return { problems: [{ file, line: err.line, column: err.column, message: `invalid TOML: ${reason}` }] };
  }
  return validateConfig(doc, file);
}

/** Checks a parsed document, collecting every problem rather than stopping at the first. */
function validateConfig(doc: Record<string, unknown>, file: string): ConfigReport {
  const problems = new Problems(file);
  rejectUnknownKeys(doc, [], TOP_LEVEL_KEYS, problems);

  const runtimes = new Map<string, RuntimeConfig>([['runc', BUILTIN_RUNC]]);
  const named = new Map<string, RuntimeConfig | null>(runtimes);
  const tables = doc.runtimes;
  if (tables !== undefined) {
    if (!isTable(tables)) {
      problems.add('runtimes', `expected a table of runtime tables, got ${tomlType(tables)}`);
    } else {
      for (const [name, table] of Object.entries(tables)) {
        const runtime = validateRuntime(name, table, problems);
        named.set(name, runtime ?? null);
        if (runtime) runtimes.set(name, runtime);
      }
    }
  }

  // A broken runtime table still names a runtime: report the table, not default_runtime too.
  const names = new Set([...runtimes.keys(), ...(isTable(tables) ? Object.keys(tables) : [])]);
  let defaultRuntime = 'runc';
  const wanted = doc.default_runtime;
  if (wanted !== undefined) {
    if (typeof wanted !== 'string') {
      problems.add('default_runtime', `expected a string, got ${tomlType(wanted)}`);
    } else if (!names.has(wanted)) {
      const known = [...names].join(', ');
      problems.add('default_runtime', `expected the name of a [runtimes.X] table (one of: ${known}), got ${JSON.stringify(wanted)}`);
    } else {
      defaultRuntime = wanted;
    }
  }

  let grouping: Grouping = 'pod';
  if (doc.grouping !== undefined) {
    if (typeof doc.grouping === 'string' && (GROUPINGS as readonly string[]).includes(doc.grouping)) grouping = doc.grouping as Grouping;
    else problems.add('grouping', `expected one of ${GROUPINGS.map((g) => JSON.stringify(g)).join(', ')}, got ${typeof doc.grouping === 'string' ? JSON.stringify(doc.grouping) : tomlType(doc.grouping)}`);
  }

  let startupSnapshot = false;
  if (doc.startup_snapshot !== undefined) {
    if (typeof doc.startup_snapshot === 'boolean') startupSnapshot = doc.startup_snapshot;
    else problems.add('startup_snapshot', `expected a boolean, got ${tomlType(doc.startup_snapshot)}`);
  }

  const toolkit = validateToolkit(doc, problems);

  if (problems.list.length > 0) return { problems: problems.list, runtimes: named };
  return { config: { file, defaultRuntime, grouping, startupSnapshot, runtimes, ...toolkit }, problems: [], runtimes: named };
}

/**
 * Reads the file at `location`. A missing file at the default location is not a problem:
 * it means the built-in defaults (runc only). Synchronous: a small local file, read at every
 * Create, where a read through the thread pool is four trips (bundle-files.ts says why).
 */
export function readConfig(location: ConfigLocation): ConfigReport {
  const { path, explicit, source } = location;
  if (!isAbsolute(path)) {
    return { problems: [{ file: path, message: `expected an absolute path (named by ${source})` }] };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return { config: BUILTIN_CONFIG, problems: [] };
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
    return { problems: [{ file: path, message: `cannot read the config file named by ${source}: ${why}` }] };
  }
  return parseConfig(text, path);
}

/** Like readConfig, but a config with problems is refused with all of them in the message. */
export function loadConfig(location: ConfigLocation): ShimConfig {
  const report = readConfig(location);
  if (report.config) return report.config;
  throw new StatusError(Code.InvalidArgument, report.problems.map(formatProblem).join('\n'));
}

class Problems {
  readonly list: ConfigProblem[] = [];
  constructor(private readonly file: string) {}
  add(key: string, message: string): void {
    this.list.push({ file: this.file, key, message });
  }
}

function validateRuntime(name: string, table: unknown, problems: Problems): RuntimeConfig | undefined {
  const at = (...rest: string[]): string => keyPath(['runtimes', name, ...rest]);
  const before = problems.list.length;
  if (!BARE_KEY.test(name)) {
    problems.add(at(), 'expected a runtime name of letters, digits, "_" and "-"');
  }
  if (!isTable(table)) {
    problems.add(at(), `expected a table, got ${tomlType(table)}`);
    return undefined;
  }
  rejectUnknownKeys(table, ['runtimes', name], RUNTIME_KEYS, problems);

  const binary = optionalString(table.binary, at('binary'), problems) ?? name;
  if (binary === '') {
    problems.add(at('binary'), 'expected a command name or an absolute path, got an empty string');
  } else if (binary.includes('/') && !isAbsolute(binary)) {
    problems.add(at('binary'), `expected a command name or an absolute path, got ${JSON.stringify(binary)}`);
  }

  let dialect: DialectName = defaultDialect(name, binary);
  const givenDialect = optionalString(table.dialect, at('dialect'), problems);
  if (givenDialect !== undefined) {
    if (isDialectName(givenDialect)) dialect = givenDialect;
    else problems.add(at('dialect'), `expected one of ${DIALECT_NAMES.join(', ')}, got ${JSON.stringify(givenDialect)}`);
  }

  const root = optionalString(table.root, at('root'), problems) ?? (dialect === 'runc' ? RUNC_ROOT : `/run/containerd/${dialect}`);
  if (!isAbsolute(root)) problems.add(at('root'), `expected an absolute path, got ${JSON.stringify(root)}`);

  const flags = validateFlags(table.flags, at('flags'), problems);

  let systemdCgroup = false;
  if (table.systemd_cgroup !== undefined) {
    if (typeof table.systemd_cgroup !== 'boolean') {
      problems.add(at('systemd_cgroup'), `expected a boolean, got ${tomlType(table.systemd_cgroup)}`);
    } else if (table.systemd_cgroup && !DIALECTS[dialect].systemdCgroup) {
      problems.add(at('systemd_cgroup'), `the ${dialect} dialect has no --systemd-cgroup flag`);
    } else {
      systemdCgroup = table.systemd_cgroup;
    }
  }

  const env = validateEnv(table.env, at('env'), problems);
  const options = validateOptions(table.options, ['runtimes', name, 'options'], problems);

  if (problems.list.length !== before) return undefined;
  return { name, binary, root, dialect, flags, systemdCgroup, env, options };
}

/** The table name says what the user meant; the binary's basename is the fallback. */
function defaultDialect(name: string, binary: string): DialectName {
  if (isDialectName(name)) return name;
  const base = binary.slice(binary.lastIndexOf('/') + 1);
  return isDialectName(base) ? base : 'runc';
}

function validateFlags(value: unknown, key: string, problems: Problems): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    const got = Array.isArray(value) ? `an array containing ${tomlType(value.find((v) => typeof v !== 'string'))}` : tomlType(value);
    problems.add(key, `expected an array of strings, got ${got}`);
    return [];
  }
  value.forEach((flag: string, i) => {
    const managed = MANAGED_FLAGS.find((m) => new RegExp(`^--?${m}(=|$)`).test(flag));
    if (managed) problems.add(`${key}[${i}]`, `--${managed} is set by tsshim itself (use the runtime's root/systemd_cgroup keys)`);
  });
  return value;
}

function validateEnv(value: unknown, key: string, problems: Problems): Record<string, string> {
  if (value === undefined) return {};
  if (!isTable(value)) {
    problems.add(key, `expected a table of strings, got ${tomlType(value)}`);
    return {};
  }
  for (const [name, v] of Object.entries(value)) {
    const at = `${key}.${keyPath([name])}`;
    if (!ENV_NAME.test(name)) problems.add(at, 'expected an environment variable name (letters, digits, "_", not starting with a digit)');
    if (typeof v !== 'string') problems.add(at, `expected a string, got ${tomlType(v)}`);
  }
  return value as Record<string, string>;
}

function validateOptions(value: unknown, path: string[], problems: Problems): Record<string, string | boolean> {
  const key = keyPath(path);
  if (value === undefined) return {};
  if (!isTable(value)) {
    problems.add(key, `expected a table of flag values, got ${tomlType(value)}`);
    return {};
  }
  const options: Record<string, string | boolean> = {};
  for (const [name, v] of Object.entries(value)) {
    const at = keyPath([...path, name]);
    if (!FLAG_NAME.test(name)) problems.add(at, 'expected a flag name (letters, digits, "_", "-", ".")');
    else if (MANAGED_FLAGS.includes(name)) problems.add(at, `--${name} is set by tsshim itself (use the runtime's root/systemd_cgroup keys)`);
    if (typeof v === 'string' || typeof v === 'boolean') options[name] = v;
    else if (typeof v === 'bigint' || (typeof v === 'number' && Number.isFinite(v))) options[name] = String(v);
    else problems.add(at, `expected a string, boolean or number, got ${tomlType(v)}`);
  }
  return options;
}

function rejectUnknownKeys(table: Record<string, unknown>, path: string[], allowed: string[], problems: Problems): void {
  for (const key of Object.keys(table)) {
    if (!allowed.includes(key)) problems.add(keyPath([...path, key]), `unknown key (expected one of: ${allowed.join(', ')})`);
  }
}

function optionalString(value: unknown, key: string, problems: Problems): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  problems.add(key, `expected a string, got ${tomlType(value)}`);
  return undefined;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof TomlDate);
}

function tomlType(value: unknown): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'bigint') return 'integer';
  if (typeof value === 'number') return 'float';
  if (typeof value === 'boolean') return 'boolean';
  if (value instanceof TomlDate) return 'datetime';
  if (Array.isArray(value)) return 'array';
  return 'table';
}

/** Dotted TOML key path, quoting segments that are not bare keys. */
function keyPath(segments: string[]): string {
  return segments.map((s) => (BARE_KEY.test(s) ? s : JSON.stringify(s))).join('.');
}

// ---- Developer toolkit: [trace], [[faults]], [hooks] (docs/toolkit.md) ----

export interface TraceConfig {
  /** Directory of the per-daemon JSON-lines trace files. */
  readonly dir: string;
}

export type FaultAction =
  | { readonly kind: 'error'; readonly code: Code; readonly message: string }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'crash' }
  | { readonly kind: 'runtime-fail'; readonly stderr: string };

export interface FaultRule {
  /** Position in the [[faults]] array, for logs. */
  readonly index: number;
  readonly target: { readonly method: string } | { readonly runtime: RuntimeCommand };
  /** Glob over task ids (`*` and `?`); absent: every task. */
  readonly id?: string;
  readonly action: FaultAction;
  /** Fires this many times, then never again; absent: every time (or by probability). */
  readonly count?: number;
  readonly probability?: number;
}

export interface HooksConfig {
  readonly module: string;
  readonly timeoutMs: number;
}

/** The Task API methods a fault may match (the v2 and v3 services have the same methods). */
export const TASK_API_METHODS = [
  'State', 'Create', 'Start', 'Delete', 'Pids', 'Pause', 'Resume', 'Checkpoint', 'Kill', 'Exec',
  'ResizePty', 'CloseIO', 'Update', 'Wait', 'Stats', 'Connect', 'Shutdown',
];
const FAULT_KEYS = ['method', 'runtime', 'id', 'action', 'code', 'message', 'delay_ms', 'stderr', 'count', 'probability'];
const FAULT_ACTIONS = ['error', 'delay', 'hang', 'crash', 'runtime-fail'];
const DEFAULT_HOOK_TIMEOUT_MS = 5_000;

function validateToolkit(doc: Record<string, unknown>, problems: Problems): Pick<ShimConfig, 'trace' | 'faults' | 'hooks'> {
  return { trace: validateTrace(doc.trace, problems), faults: validateFaults(doc.faults, problems), hooks: validateHooks(doc.hooks, problems) };
}

function validateTrace(value: unknown, problems: Problems): TraceConfig | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) {
    problems.add('trace', `expected a table, got ${tomlType(value)}`);
    return undefined;
  }
  rejectUnknownKeys(value, ['trace'], ['dir'], problems);
  const dir = optionalString(value.dir, 'trace.dir', problems);
  if (dir === undefined || !isAbsolute(dir)) {
    problems.add('trace.dir', `expected an absolute directory path, got ${dir === undefined ? 'nothing' : JSON.stringify(dir)}`);
    return undefined;
  }
  return { dir };
}

function validateFaults(value: unknown, problems: Problems): FaultRule[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.add('faults', `expected an array of tables ([[faults]]), got ${tomlType(value)}`);
    return [];
  }
  const rules: FaultRule[] = [];
  value.forEach((entry: unknown, index) => {
    const rule = validateFault(entry, index, problems);
    if (rule) rules.push(rule);
  });
  return rules;
}

function validateFault(t: unknown, index: number, problems: Problems): FaultRule | undefined {
  const at = (key?: string) => `faults[${index}]${key ? `.${key}` : ''}`;
  if (!isTable(t)) {
    problems.add(at(), `expected a table, got ${tomlType(t)}`);
    return undefined;
  }
  const before = problems.list.length;
  for (const key of Object.keys(t)) {
    if (!FAULT_KEYS.includes(key)) problems.add(at(key), `unknown key (expected one of: ${FAULT_KEYS.join(', ')})`);
  }
  const method = optionalString(t.method, at('method'), problems);
  const runtime = optionalString(t.runtime, at('runtime'), problems);
  let target: FaultRule['target'] | undefined;
  if ((method === undefined) === (runtime === undefined)) {
    problems.add(at(), 'expected exactly one of method (a Task API method) or runtime (a runtime command)');
  } else if (method !== undefined) {
    if (TASK_API_METHODS.includes(method)) target = { method };
    else problems.add(at('method'), `expected a Task API method (one of: ${TASK_API_METHODS.join(', ')}), got ${JSON.stringify(method)}`);
  } else if (runtime !== undefined) {
    if ((ALL_COMMANDS as readonly string[]).includes(runtime)) target = { runtime: runtime as RuntimeCommand };
    else problems.add(at('runtime'), `expected a runtime command (one of: ${ALL_COMMANDS.join(', ')}), got ${JSON.stringify(runtime)}`);
  }
  const id = optionalString(t.id, at('id'), problems);
  if (id === '') problems.add(at('id'), 'expected a task id glob, got an empty string');

  const allowed: Record<string, string[]> = { error: ['code', 'message'], delay: ['delay_ms'], hang: [], crash: [], 'runtime-fail': ['stderr'] };
  const kind = optionalString(t.action, at('action'), problems);
  let action: FaultAction | undefined;
  if (kind === undefined || !FAULT_ACTIONS.includes(kind)) {
    problems.add(at('action'), `expected one of ${FAULT_ACTIONS.join(', ')}, got ${kind === undefined ? 'nothing' : JSON.stringify(kind)}`);
  } else {
    for (const key of ['code', 'message', 'delay_ms', 'stderr']) {
      if (t[key] !== undefined && !allowed[kind]!.includes(key)) problems.add(at(key), `not used by action "${kind}"`);
    }
    if (kind === 'error') {
      const code = faultCode(t.code, at('code'), problems);
      const message = optionalString(t.message, at('message'), problems) ?? 'injected fault';
      if (code !== undefined) action = { kind, code, message };
    } else if (kind === 'delay') {
      const ms = positiveInteger(t.delay_ms, at('delay_ms'), problems);
      if (ms !== undefined) action = { kind, ms };
    } else if (kind === 'runtime-fail') {
      if (runtime === undefined) problems.add(at('action'), 'runtime-fail needs a runtime match');
      const stderr = optionalString(t.stderr, at('stderr'), problems);
      if (!stderr) problems.add(at('stderr'), 'expected the error text the runtime prints, got nothing');
      else action = { kind, stderr };
    } else if (kind === 'hang') {
      if (method === undefined) problems.add(at('action'), 'hang needs a method match: it waits for the call\'s deadline');
      action = { kind };
    } else {
      action = { kind: 'crash' };
    }
  }

  let count: number | undefined;
  let probability: number | undefined;
  if (t.count !== undefined) count = positiveInteger(t.count, at('count'), problems);
  if (t.probability !== undefined) {
    const p = typeof t.probability === 'bigint' ? Number(t.probability) : t.probability;
    if (typeof p !== 'number' || !(p > 0 && p <= 1)) problems.add(at('probability'), `expected a number in (0, 1], got ${tomlType(t.probability)} ${String(t.probability)}`);
    else probability = p;
  }
  if (t.count !== undefined && t.probability !== undefined) problems.add(at(), 'expected count or probability, not both');

  if (problems.list.length !== before || !target || !action) return undefined;
  return { index, target, ...(id ? { id } : {}), action, ...(count ? { count } : {}), ...(probability ? { probability } : {}) };
}

function faultCode(value: unknown, key: string, problems: Problems): Code | undefined {
  if (typeof value === 'string' && typeof (Code as unknown as Record<string, unknown>)[value] === 'number' && value !== 'OK') {
    return (Code as unknown as Record<string, Code>)[value];
  }
  if (typeof value === 'bigint' && value > 0n && value <= 16n) return Number(value) as Code;
  const names = Object.keys(Code).filter((k) => Number.isNaN(Number(k)) && k !== 'OK');
  problems.add(key, `expected a gRPC code name (one of: ${names.join(', ')}) or number 1-16, got ${value === undefined ? 'nothing' : JSON.stringify(typeof value === 'bigint' ? Number(value) : value)}`);
  return undefined;
}

function positiveInteger(value: unknown, key: string, problems: Problems): number | undefined {
  if (typeof value === 'bigint' && value > 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  problems.add(key, `expected a positive integer, got ${value === undefined ? 'nothing' : `${tomlType(value)} ${String(value)}`}`);
  return undefined;
}

function validateHooks(value: unknown, problems: Problems): HooksConfig | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) {
    problems.add('hooks', `expected a table, got ${tomlType(value)}`);
    return undefined;
  }
  rejectUnknownKeys(value, ['hooks'], ['module', 'timeout_ms'], problems);
  const module = optionalString(value.module, 'hooks.module', problems);
  if (module === undefined || !isAbsolute(module)) {
    problems.add('hooks.module', `expected the absolute path of an ES module, got ${module === undefined ? 'nothing' : JSON.stringify(module)}`);
    return undefined;
  }
  const timeoutMs = value.timeout_ms === undefined ? DEFAULT_HOOK_TIMEOUT_MS : positiveInteger(value.timeout_ms, 'hooks.timeout_ms', problems);
  return timeoutMs === undefined ? undefined : { module, timeoutMs };
}
