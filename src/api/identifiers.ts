import { Code, errdefs } from '../errors/index.js';

// containerd's identifier rule (its identifiers package), which every id it generates or accepts
// follows: labels of ASCII letters and digits joined by single '.', '_' or '-', at most 76
// characters. Such an id is always a safe path component and socket name, so checking it here
// keeps `../x`, `/`, control characters and overlong names out of every path the shim builds.
const MAX_LENGTH = 76;
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;

/**
 * The reason `id` is not a containerd identifier, worded as containerd words it (without the
 * errdefs suffix), or undefined when it is one.
 */
export function identifierProblem(id: string): string | undefined {
  if (id.length === 0) return 'identifier must not be empty';
  if (id.length > MAX_LENGTH) return `identifier ${JSON.stringify(id)} greater than maximum length (${MAX_LENGTH} characters)`;
  if (!IDENTIFIER.test(id)) return `identifier ${JSON.stringify(id)} must match ${IDENTIFIER.source}`;
  return undefined;
}

/** Throws InvalidArgument naming `what` (e.g. "container id") unless `id` is a containerd identifier. */
export function validateIdentifier(what: string, id: string): void {
  const problem = identifierProblem(id);
  if (problem) throw errdefs(Code.InvalidArgument, `invalid ${what}: ${problem}`);
}
