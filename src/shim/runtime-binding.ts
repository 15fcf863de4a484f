import type { Logger } from 'pino';
import { containerd, runtimeoptions } from '../api/gen/proto.js';
import { anyTypeName, TypeUrls } from '../api/any.js';
import { StatusError, Code } from '../errors/index.js';
import { resolveConfigPath } from '../runtime/config-path.js';
import { loadConfig, parseConfig, formatProblem, type ShimConfig } from '../runtime/config.js';
import { selectRuntime } from '../runtime/select.js';
import { RuntimeDriver } from '../runtime/runtime-driver.js';
import { isNotExist, isProcessAlreadyFinished } from '../runtime/runtime-errors.js';
import { removeRuntimeFileSync, writeRuntimeFileSync } from '../task/bundle-files.js';
import type { RuntimeBinding, RuntimeRequest } from '../task/service.js';
import type { Toolkit } from './toolkit.js';

const errors = { isNotExist, isProcessAlreadyFinished };

interface DecodedOptions {
  runc?: containerd.runc.v1.Options;
  configPath?: string;
  configBody?: Uint8Array;
}

export function decodeOptions(options: RuntimeRequest['options']): DecodedOptions {
  if (!options?.typeUrl) return {};
  const name = anyTypeName(options);
  const value = options.value ?? new Uint8Array(0);
  try {
    if (name === TypeUrls.RuncOptions) return { runc: containerd.runc.v1.Options.decode(value) };
    if (name === TypeUrls.LegacyRuncCreateOptions) return { runc: fromLegacyCreateOptions(containerd.linux.runc.CreateOptions.decode(value)) };
    if (name === TypeUrls.RuntimeOptions) {
      const o = runtimeoptions.v1.Options.decode(value);
      return { configPath: o.configPath || undefined, configBody: o.configBody?.length ? o.configBody : undefined };
    }
  } catch (err) {
    throw new StatusError(Code.InvalidArgument, `cannot decode runtime options ${options.typeUrl}: ${(err as Error).message}`, { cause: err });
  }
  throw new StatusError(
    Code.InvalidArgument,
    `unsupported runtime options type ${options.typeUrl}: expected ${TypeUrls.RuncOptions}, ${TypeUrls.RuntimeOptions} or ${TypeUrls.LegacyRuncCreateOptions}`,
  );
}

/**
 * The containerd 1.6 client sends the legacy CreateOptions to every runtime not named
 * io.containerd.runc.*: the fields that have a runc Options twin mean the same there. Its
 * restore-only flags (open_tcp, file_locks, ...) belonged to the v1 shim's `runc restore` and
 * have no counterpart in the v2 options; they are ignored, as the runc v2 shim never reads them.
 */
function fromLegacyCreateOptions(o: containerd.linux.runc.CreateOptions): containerd.runc.v1.Options {
  return containerd.runc.v1.Options.create({
    noPivotRoot: o.noPivotRoot,
    noNewKeyring: o.noNewKeyring,
    shimCgroup: o.shimCgroup,
    ioUid: o.ioUid,
    ioGid: o.ioGid,
    criuWorkPath: o.criuWorkPath,
    criuImagePath: o.criuImagePath,
  });
}

export async function configFor(decoded: DecodedOptions): Promise<ShimConfig> {
  if (decoded.configBody && !decoded.configPath) {
    // containerd 1.7+ CRI sends the runtime's options table inline when it has no ConfigPath.
    const report = parseConfig(Buffer.from(decoded.configBody).toString('utf8'), 'config_body of runtimeoptions.v1.Options');
    if (!report.config) throw new StatusError(Code.InvalidArgument, report.problems.map(formatProblem).join('; '));
    return report.config;
  }
  return loadConfig(resolveConfigPath(decoded.configPath));
}

export async function bindRuntime(req: RuntimeRequest, ctx: { namespace: string; logger: Logger; toolkit: Toolkit }): Promise<RuntimeBinding> {
  const decoded = decodeOptions(req.options);
  const config = ctx.toolkit.takePreparedConfig(req.id) ?? (await configFor(decoded));
  const resolved = selectRuntime(config, { annotations: req.annotations, runcOptions: decoded.runc });
  // Toolkit: the config's trace/faults/hooks; the runtime with its faults and traced invocations.
  ctx.toolkit.configure(config);
  const hooks = await ctx.toolkit.hooksFor(config);
  const driver = new RuntimeDriver(resolved, {
    namespace: ctx.namespace, bundle: req.bundle, logger: ctx.logger, onInvocation: ctx.toolkit.invocationObserver(req.id),
    annotations: req.annotations,
  });
  const runtime = ctx.toolkit.wrapRuntime(driver, driver.binary);
  // Recorded so the `delete` action can clean up after a dead shim; removed again once the daemon
  // has deleted the container, so that `delete` has no runtime process to spawn.
  writeRuntimeFileSync(req.bundle, { namespace: ctx.namespace, runtime: resolved });
  return {
    runtime,
    hooks,
    errors,
    noPivot: decoded.runc?.noPivotRoot,
    noNewKeyring: decoded.runc?.noNewKeyring,
    ioOwner: decoded.runc?.ioUid || decoded.runc?.ioGid ? { uid: decoded.runc.ioUid, gid: decoded.runc.ioGid } : undefined,
    criuWorkPath: decoded.runc?.criuWorkPath || undefined,
    released: () => removeRuntimeFileSync(req.bundle),
  };
}
