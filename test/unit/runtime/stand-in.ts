import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResolvedRuntime } from '../../../src/runtime/select.js';

/** Stand-ins that answer like a particular runtime, and the recording code they share. */
export const FIXTURES = fileURLToPath(new URL('../../fixtures/runtimes/', import.meta.url));

/**
 * A recording stand-in for an OCI runtime binary: it appends its argv and a few facts about
 * its process to `record`, and behaves as the files next to it say (exit code, log lines,
 * output, sleeping). Lets tests assert the exact command lines a real runtime would get.
 */
const SCRIPT = `#!/bin/sh
d=$(dirname "$0")
. "$d/record.sh"
cmd=""; prev=""; logf=""; procf=""
for a in "$@"; do
  case "$prev" in
    --log) logf="$a" ;;
    --process) procf="$a" ;;
  esac
  if [ -z "$cmd" ]; then
    case "$a" in
      -*) ;;
      *) case "$prev" in --root|--log|--log-format) ;; *) cmd="$a" ;; esac ;;
    esac
  fi
  prev="$a"
done
if [ -n "$procf" ]; then cp "$procf" "$d/process.json"; echo "$procf" > "$d/process-path"; fi
if [ "$cmd" = update ]; then cat > "$d/stdin"; fi
case "$cmd" in create|exec|restore) echo "stdout of $cmd"; echo "stderr of $cmd" >&2 ;; esac
if [ -f "$d/log" ] && [ -n "$logf" ]; then cat "$d/log" >> "$logf"; fi
if [ -f "$d/stdout" ]; then cat "$d/stdout"; fi
if [ -f "$d/stderr" ]; then cat "$d/stderr" >&2; fi
if [ -f "$d/sleep" ]; then exec sleep "$(cat "$d/sleep")"; fi
exit "$(cat "$d/exit" 2>/dev/null || echo 0)"
`;

export interface Invocation {
  pid: number;
  cwd: string;
  notifySocket: string;
  foo: string;
  args: string[];
}

export class StandIn {
  private constructor(readonly dir: string, readonly binary: string) {}

  /** The generic stand-in, steered by `behave`, installed as `name`. */
  static async create(name = 'runc'): Promise<StandIn> {
    const standIn = await StandIn.empty(name);
    await writeFile(standIn.binary, SCRIPT);
    await chmod(standIn.binary, 0o755);
    return standIn;
  }

  /** A stand-in of test/fixtures/runtimes that answers like one real runtime, installed as `name`. */
  static async fixture(fixture: string, name: string): Promise<StandIn> {
    const standIn = await StandIn.empty(name);
    await copyFile(join(FIXTURES, fixture), standIn.binary);
    await chmod(standIn.binary, 0o755);
    return standIn;
  }

  private static async empty(name: string): Promise<StandIn> {
    const dir = await mkdtemp(join(tmpdir(), 'tsshim-standin-'));
    await copyFile(join(FIXTURES, 'record.sh'), join(dir, 'record.sh'));
    return new StandIn(dir, join(dir, name));
  }

  runtime(overrides: Partial<ResolvedRuntime> = {}): ResolvedRuntime {
    return {
      name: 'runc',
      binary: this.binary,
      binarySource: 'runtimes.runc.binary in /etc/tsshim/config.toml',
      root: '/run/containerd/runc',
      dialect: 'runc',
      flags: [],
      systemdCgroup: false,
      env: {},
      options: {},
      ...overrides,
    };
  }

  /** Makes the next invocations behave: exit code, lines appended to --log, stdout/stderr, sleep. */
  async behave(b: { exit?: number; log?: string; stdout?: string; stderr?: string; sleepSeconds?: number }): Promise<void> {
    if (b.exit !== undefined) await writeFile(join(this.dir, 'exit'), String(b.exit));
    if (b.log !== undefined) await writeFile(join(this.dir, 'log'), b.log);
    if (b.stdout !== undefined) await writeFile(join(this.dir, 'stdout'), b.stdout);
    if (b.stderr !== undefined) await writeFile(join(this.dir, 'stderr'), b.stderr);
    if (b.sleepSeconds !== undefined) await writeFile(join(this.dir, 'sleep'), String(b.sleepSeconds));
  }

  async invocations(): Promise<Invocation[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'record'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('--- invocation\n')
      .filter(Boolean)
      .map((block) => {
        const lines = block.trimEnd().split('\n');
        const field = (k: string) => lines.find((l) => l.startsWith(`${k}=`))!.slice(k.length + 1);
        return {
          pid: Number(field('pid')),
          cwd: field('cwd'),
          notifySocket: field('NOTIFY_SOCKET'),
          foo: field('FOO'),
          args: lines.filter((l) => l.startsWith('arg=')).map((l) => l.slice(4)),
        };
      });
  }

  /** The argv of the only invocation so far. */
  async onlyArgs(): Promise<string[]> {
    const all = await this.invocations();
    if (all.length !== 1) throw new Error(`expected one invocation, got ${all.length}`);
    return all[0].args;
  }

  file(name: string): Promise<string> {
    return readFile(join(this.dir, name), 'utf8');
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
