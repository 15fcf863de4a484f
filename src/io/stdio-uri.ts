import { StatusError, Code } from '../errors/index.js';

export type StdioTarget =
  | { kind: 'none' }
  | { kind: 'fifo'; path: string }
  | { kind: 'file'; path: string }
  | { kind: 'binary'; path: string; args: string[] };

/**
 * Interprets one of the stdio strings of CreateTaskRequest/ExecProcessRequest: empty = not wanted,
 * a bare path = a FIFO the client created, file:// and binary:// = shim-side log drivers.
 */
export function parseStdio(value: string): StdioTarget {
  if (value === '') return { kind: 'none' };
  if (!value.includes('://')) return { kind: 'fifo', path: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw new StatusError(Code.InvalidArgument, `invalid stdio URI ${JSON.stringify(value)}`, { cause: err });
  }
  const path = decodeURIComponent(url.pathname);
  switch (url.protocol) {
    case 'fifo:':
      return { kind: 'fifo', path };
    case 'file:':
      return { kind: 'file', path };
    case 'binary:': {
      const args: string[] = [];
      for (const key of new Set(url.searchParams.keys())) args.push(key, url.searchParams.get(key) ?? '');
      return { kind: 'binary', path, args };
    }
    default:
      throw new StatusError(Code.InvalidArgument, `unknown STDIO scheme ${url.protocol.replace(/:$/, '')}`);
  }
}
