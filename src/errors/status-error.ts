import { Code } from './codes.js';

// Node errno values that Go's ttrpc convertCode maps through os.IsNotExist / IsExist / IsPermission
// and io.ErrClosedPipe, so a handler that lets a plain fs error escape answers like the Go shim.
const errnoCodes = new Map<string, Code>([
  ['ENOENT', Code.NotFound],
  ['EEXIST', Code.AlreadyExists],
  ['EACCES', Code.PermissionDenied],
  ['EPERM', Code.PermissionDenied],
  ['EPIPE', Code.FailedPrecondition],
]);

/**
 * The text containerd's errdefs package appends for each code when it wraps an error
 * (`errdefs.ErrNotFound` is "not found", …). containerd's clients match on these suffixes
 * (ctr prints them, CRI maps them back to codes), so a message built with `errdefs()` reads
 * exactly like one from the reference shim. Unknown has no suffix.
 */
const ERRDEFS_SUFFIX: Partial<Record<Code, string>> = {
  [Code.Canceled]: 'context canceled',
  [Code.InvalidArgument]: 'invalid argument',
  [Code.DeadlineExceeded]: 'context deadline exceeded',
  [Code.NotFound]: 'not found',
  [Code.AlreadyExists]: 'already exists',
  [Code.PermissionDenied]: 'permission denied',
  [Code.ResourceExhausted]: 'resource exhausted',
  [Code.FailedPrecondition]: 'failed precondition',
  [Code.Aborted]: 'aborted',
  [Code.OutOfRange]: 'out of range',
  [Code.Unimplemented]: 'not implemented',
  [Code.Internal]: 'internal',
  [Code.Unavailable]: 'unavailable',
  [Code.DataLoss]: 'data loss',
  [Code.Unauthenticated]: 'unauthenticated',
};

/**
 * The project's single error type: a gRPC code plus a message, turned into a ttrpc
 * google.rpc.Status at the transport edge. Every layer throws it; only the transport knows
 * how it travels.
 */
export class StatusError extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StatusError';
    this.code = code;
  }

  /** Maps anything thrown to a StatusError, keeping it as the cause. */
  static from(err: unknown): StatusError {
    if (err instanceof StatusError) return err;
    if (!(err instanceof Error)) return new StatusError(Code.Unknown, String(err), { cause: err });
    if (err.name === 'AbortError') return new StatusError(Code.Canceled, err.message, { cause: err });
    if (err.name === 'TimeoutError') return new StatusError(Code.DeadlineExceeded, err.message, { cause: err });
    const errno = (err as NodeJS.ErrnoException).code;
    const code = (typeof errno === 'string' && errnoCodes.get(errno)) || Code.Unknown;
    return new StatusError(code, err.message, { cause: err });
  }

  toStatus(): { code: number; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** A StatusError whose message ends in containerd's errdefs text for its code ("…: not found"). */
export function errdefs(code: Code, message: string, options?: { cause?: unknown }): StatusError {
  const suffix = ERRDEFS_SUFFIX[code];
  return new StatusError(code, suffix ? `${message}: ${suffix}` : message, options);
}

/**
 * An error from below (a runtime binary, the file system) as the API reports it: a StatusError
 * with a specific code passes through; anything else becomes Unknown with `prefix: message`,
 * as the reference shim's errors.Wrap does.
 */
export function wrapUnknown(prefix: string, err: unknown): StatusError {
  if (err instanceof StatusError && err.code !== Code.Unknown) return err;
  return new StatusError(Code.Unknown, `${prefix}: ${errorText(err)}`, { cause: err });
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
