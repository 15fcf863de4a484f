import { Code, StatusError } from '../errors/index.js';
import type { RuntimeConfig, ShimConfig } from './config.js';
import { isDialectName, type DialectName } from './dialects.js';

/** OCI annotation naming the `[runtimes.X]` table a container runs with. */
export const RUNTIME_ANNOTATION = 'io.containerd.tsshim.runtime';

/**
 * Everything the driver needs to run one runtime. A plain JSON-serialisable object, so the
 * task layer can keep it in the bundle for the `delete` action after a shim crash.
 */
export interface ResolvedRuntime extends RuntimeConfig {
  /** Where `binary` came from, for "not found" messages. */
  readonly binarySource: string;
}

/** The fields of containerd.runc.v1.Options that choose the runtime (as `ctr --runc-binary/--runc-root` send them). */
export interface RuncRuntimeOptions {
  readonly binaryName?: string | null;
  readonly root?: string | null;
  readonly systemdCgroup?: boolean | null;
}

export interface RuntimeChoice {
  /** The container spec's annotations. */
  readonly annotations?: Readonly<Record<string, string>> | null;
  readonly runcOptions?: RuncRuntimeOptions | null;
}

/**
 * Precedence: the container's runtime annotation, then the runc Options containerd sent
 * (default runtime's settings with that binary/root), then `default_runtime`.
 */
export function selectRuntime(config: ShimConfig, request: RuntimeChoice = {}): ResolvedRuntime {
  const origin = config.file ?? 'the built-in defaults';
  const named = request.annotations?.[RUNTIME_ANNOTATION];
  if (named !== undefined) {
    const rt = config.runtimes.get(named);
    if (!rt) {
      const known = [...config.runtimes.keys()].join(', ');
      throw new StatusError(
        Code.InvalidArgument,
        `annotation ${RUNTIME_ANNOTATION}=${JSON.stringify(named)} names no runtime of ${origin} (known: ${known})`,
      );
    }
    return fromConfig(rt, origin);
  }

  const base = config.runtimes.get(config.defaultRuntime);
  if (!base) throw new StatusError(Code.Internal, `default runtime ${config.defaultRuntime} is not among the runtimes of ${origin}`);
  const resolved = fromConfig(base, origin);
  const runc = request.runcOptions ?? {};
  const withBinary = runc.binaryName
    ? {
        binary: runc.binaryName,
        binarySource: 'binary_name of containerd.runc.v1.Options',
        // `ctr --runc-binary crun` must not be driven with the default runtime's quirks.
        dialect: dialectOf(runc.binaryName) ?? base.dialect,
      }
    : {};
  return {
    ...resolved,
    ...withBinary,
    root: runc.root || resolved.root,
    systemdCgroup: resolved.systemdCgroup || Boolean(runc.systemdCgroup),
  };
}

function dialectOf(binary: string): DialectName | undefined {
  const basename = binary.slice(binary.lastIndexOf('/') + 1);
  return isDialectName(basename) ? basename : undefined;
}

function fromConfig(rt: RuntimeConfig, origin: string): ResolvedRuntime {
  return { ...rt, binarySource: `runtimes.${rt.name}.binary in ${origin}` };
}
