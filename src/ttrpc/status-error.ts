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
 * The project's single error type: a gRPC code plus a message, turned into a ttrpc
 * google.rpc.Status at the transport edge.
 */
export class TtrpcError extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TtrpcError';
    this.code = code;
  }

  static from(err: unknown): TtrpcError {
    if (err instanceof TtrpcError) return err;
    if (!(err instanceof Error)) return new TtrpcError(Code.Unknown, String(err), { cause: err });
    if (err.name === 'AbortError') return new TtrpcError(Code.Canceled, err.message, { cause: err });
    if (err.name === 'TimeoutError') return new TtrpcError(Code.DeadlineExceeded, err.message, { cause: err });
    const errno = (err as NodeJS.ErrnoException).code;
    const code = (typeof errno === 'string' && errnoCodes.get(errno)) || Code.Unknown;
    return new TtrpcError(code, err.message, { cause: err });
  }

  toStatus(): { code: number; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
