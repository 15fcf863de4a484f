import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/**
 * Resolves a runtime binary to an absolute path once, so every later invocation runs the
 * same file and a missing runtime is reported at setup, not as a spawn ENOENT mid-request.
 */
export function lookPath(binary: string, pathEnv: string | undefined): string | undefined {
  if (isAbsolute(binary)) return isExecutableFile(binary) ? binary : undefined;
  // An empty PATH entry would mean the cwd (the bundle): never run a binary from there.
  for (const dir of (pathEnv ?? '').split(':').filter((d) => isAbsolute(d))) {
    const candidate = join(dir, binary);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Why `lookPath` found nothing, in the words of the "not found" errors. */
export function missingBinaryText(binary: string): string {
  return `runtime binary ${JSON.stringify(binary)} ${isAbsolute(binary) ? 'is missing or not executable' : 'not found in PATH'}`;
}

/** The environment a runtime runs with: the shim's, minus what would confuse it, plus its configured env. */
export function runtimeEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  // systemd would take the runtime's readiness notification for the shim's own.
  const { NOTIFY_SOCKET: _, ...inherited } = process.env;
  return { ...inherited, ...extra };
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
