import { Code, StatusError } from '../errors/index.js';

/**
 * A runtime invocation that failed. The message is the runtime's own words (the last error
 * of log.json), so the task layer can build the reference texts such as
 * `OCI runtime create failed: <runtimeMessage>`.
 */
export class RuntimeCommandError extends StatusError {
  override readonly name = 'RuntimeCommandError';
  readonly runtimeMessage: string;
  /** null when the runtime died by a signal or was killed at its deadline. */
  readonly exitCode: number | null;
  /** The full command line, binary first. */
  readonly argv: readonly string[];

  constructor(code: Code, runtimeMessage: string, details: { exitCode: number | null; argv: readonly string[]; cause?: unknown }) {
    super(code, runtimeMessage, { cause: details.cause });
    this.runtimeMessage = runtimeMessage;
    this.exitCode = details.exitCode;
    this.argv = details.argv;
  }
}

// runc: "process already finished" / "container not running"; crun and the kernel:
// "No such process" (ESRCH); runsc: "... is not running".
const ALREADY_FINISHED = /process already finished|container not running|is not running|no such process|\besrch\b/i;

// runc: "container does not exist"; runsc: "loading container: file does not exist";
// crun (no "does not exist" wording): "error opening file `<root>/<id>/status`: No such file
// or directory" or "cannot open directory '<root>/<id>': No such file or directory".
const NOT_EXIST = /does not exist|(?:error opening file|cannot open directory) .*: no such file or directory/i;

/** Kill found nothing to signal: the reference shim answers NotFound "process already finished". */
export function isProcessAlreadyFinished(err: unknown): boolean {
  return runtimeMessageOf(err)?.match(ALREADY_FINISHED) != null;
}

/** The runtime does not know the container (already deleted, or never created). */
export function isNotExist(err: unknown): boolean {
  return runtimeMessageOf(err)?.match(NOT_EXIST) != null;
}

/** Only a runtime's own words classify an error: a config or spawn error never does. */
function runtimeMessageOf(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof RuntimeCommandError) return e.runtimeMessage;
  }
  return undefined;
}
