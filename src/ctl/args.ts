/** Command-line words of one tsshimctl command: `--flag value`, `--flag=value`, booleans, `--`. */
export interface ParsedArgs {
  values: Map<string, string[]>;
  bools: Set<string>;
  positional: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], spec: { values: string[]; bools: string[] }): ParsedArgs {
  const out: ParsedArgs = { values: new Map(), bools: new Set(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || out.positional.length > 0) {
      out.positional.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) [name, value] = [name.slice(0, eq), name.slice(eq + 1)];
    if (spec.bools.includes(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      out.bools.add(name);
    } else if (spec.values.includes(name)) {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
        value = argv[++i]!;
      }
      out.values.set(name, [...(out.values.get(name) ?? []), value]);
    } else {
      throw new UsageError(`unknown flag --${name}`);
    }
  }
  return out;
}

export function one(a: ParsedArgs, name: string): string | undefined {
  return a.values.get(name)?.at(-1);
}

export function required(a: ParsedArgs, name: string): string {
  const v = one(a, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

export function keyValues(a: ParsedArgs, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of a.values.get(name) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${name} expects KEY=VALUE, got ${JSON.stringify(kv)}`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}
