import { resolveConfigPath, type ConfigLocation } from '../runtime/config-path.js';
import { formatProblem, readConfig, type RuntimeConfig } from '../runtime/config.js';
import { probeRuntime, type RuntimeProbe } from '../runtime/runtime-version.js';
import { FlagError } from './flags.js';

export interface CheckResult {
  /** 0 when the config and every runtime are usable, 1 otherwise. */
  readonly exitCode: number;
  readonly text: string;
}

/**
 * The `check` action: everything a task would trip over, found before containerd runs one.
 * Reads the config as a task would (all its problems, not the first), then resolves and asks
 * the version of every runtime it names, including the ones the problems leave out of use.
 */
export async function check(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CheckResult> {
  const location = parseCheckArgs(args) ?? resolveConfigPath(undefined, env);
  const report = readConfig(location);
  const lines = [describeSource(location, report.config?.file === null)];
  let problems = report.problems.length;
  if (problems > 0) {
    lines.push('', 'config problems:', ...report.problems.map((p) => `  ${formatProblem(p)}`));
  }

  const runtimes: ReadonlyMap<string, RuntimeConfig | null> = report.runtimes ?? report.config?.runtimes ?? new Map();
  const probes = await Promise.all(
    [...runtimes].map(([name, rt]): Promise<RuntimeProbe> | RuntimeProbe =>
      rt ? probeRuntime(rt) : { name, dialect: '-', binary: '-', problem: 'not usable: its table has config problems' },
    ),
  );
  problems += probes.filter((p) => p.problem && runtimes.get(p.name)).length;

  if (probes.length > 0) {
    lines.push(
      '',
      ...table([
        ['RUNTIME', 'DIALECT', 'BINARY', 'VERSION', 'STATUS'],
        ...probes.map((p) => [p.name, p.dialect, p.path ?? p.binary, p.version ?? '-', p.problem ?? 'ok']),
      ]),
    );
  }
  if (report.config) lines.push('', `default runtime: ${report.config.defaultRuntime}`);
  lines.push('', problems === 0 ? 'no problems found' : `${problems} problem${problems === 1 ? '' : 's'} found`);
  return { exitCode: problems === 0 ? 0 : 1, text: `${lines.join('\n')}\n` };
}

/** `check [-config <path>]`, in the Go flag syntax of the shim's other flags. */
function parseCheckArgs(args: readonly string[]): ConfigLocation | undefined {
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const m = /^--?config(?:=(.*))?$/.exec(arg);
    if (!m) throw new FlagError(`check: unexpected argument ${JSON.stringify(arg)} (usage: check [-config <path>])`);
    path = m[1] ?? args[++i];
    if (path === undefined) throw new FlagError('check: flag needs an argument: -config');
  }
  return path === undefined ? undefined : { path, explicit: true, source: '-config' };
}

function describeSource(location: ConfigLocation, builtIn: boolean): string {
  if (builtIn) return `config: no file at ${location.path} (${location.source}); built-in defaults apply`;
  return `config: ${location.path} (from ${location.source})`;
}

function table(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]))).join('  '));
}
