import { Code } from '../errors/index.js';
import { lookPath, missingBinaryText, runtimeEnv } from './binary-path.js';
import { DIALECTS, type Dialect } from './dialects.js';
import { runProcess } from './run-process.js';
import type { RuntimeConfig } from './config.js';

const VERSION_TIMEOUT_MS = 10_000;

export type VersionResult =
  | { readonly ok: true; readonly output: string }
  | { readonly ok: false; readonly code: Code; readonly message: string };

/** `<binary> --version`, run outside any bundle. Never throws: a failure is a result. */
export async function readVersion(binary: string, env: NodeJS.ProcessEnv, timeoutMs = VERSION_TIMEOUT_MS): Promise<VersionResult> {
  let result;
  try {
    result = await runProcess(binary, ['--version'], { env, stdio: ['ignore', 'pipe', 'pipe'], timeoutMs });
  } catch (cause) {
    return { ok: false, code: Code.FailedPrecondition, message: `cannot run ${binary} --version: ${(cause as Error).message}` };
  }
  if (result.kind === 'timed-out') {
    return { ok: false, code: Code.DeadlineExceeded, message: `${binary} --version did not finish within ${timeoutMs} ms and was killed` };
  }
  if (result.exitCode !== 0) {
    const status = result.signal ? `signal: ${result.signal}` : `exit status ${result.exitCode}`;
    const said = firstLine(result.stderr) ?? firstLine(result.stdout);
    return { ok: false, code: Code.Unknown, message: `${binary} --version failed (${status})${said ? `: ${said}` : ''}` };
  }
  return { ok: true, output: result.stdout };
}

export function firstLine(text: string): string | undefined {
  return text.split('\n').map((l) => l.trim()).find(Boolean);
}

const verdicts = new Map<string, Promise<string | undefined>>();

/**
 * Why this binary's release cannot be driven with `dialect`, or undefined. Only dialects with
 * an `unusableRelease` test pay for it: one `--version` per binary for the life of the
 * process, shared by every container. A probe that could not run is not remembered, so the
 * next request asks again; a binary replaced in place meanwhile is still caught by the
 * dialect's `unknownCommand` answer.
 */
export function releaseProblem(dialect: Dialect, binary: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const test = dialect.unusableRelease;
  if (!test) return Promise.resolve(undefined);
  const key = `${dialect.name}\0${binary}`;
  let verdict = verdicts.get(key);
  if (!verdict) {
    verdict = readVersion(binary, env).then((v) => {
      if (v.ok) return test(v.output);
      // A runtime that cannot even print its version will say more on the real command.
      if (v.code !== Code.Unknown) verdicts.delete(key);
      return undefined;
    });
    verdicts.set(key, verdict);
  }
  return verdict;
}

/** What `check` reports about one configured runtime. */
export interface RuntimeProbe {
  readonly name: string;
  readonly dialect: string;
  /** The configured binary (a name or a path). */
  readonly binary: string;
  /** Absolute path, when found. */
  readonly path?: string;
  /** First line of `--version`, when it ran. */
  readonly version?: string;
  /** What makes the runtime unusable; absent when it is fine. */
  readonly problem?: string;
}

/** Resolves the binary and asks its version, as a task would, without needing a container. */
export async function probeRuntime(rt: RuntimeConfig): Promise<RuntimeProbe> {
  const base = { name: rt.name, dialect: rt.dialect, binary: rt.binary };
  const env = runtimeEnv(rt.env);
  const path = lookPath(rt.binary, env.PATH);
  if (!path) return { ...base, problem: missingBinaryText(rt.binary) };
  const v = await readVersion(path, env);
  if (!v.ok) return { ...base, path, problem: v.message };
  const version = firstLine(v.output)?.replace(/\s+/g, ' ') ?? '(no output)';
  const unusable = DIALECTS[rt.dialect].unusableRelease?.(v.output);
  return unusable ? { ...base, path, version, problem: unusable } : { ...base, path, version };
}
