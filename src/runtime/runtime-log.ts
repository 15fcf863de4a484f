/**
 * The message of the last `"level":"error"` entry in a runtime's `--log-format json` output:
 * what the reference shim reports when a runtime command fails. runc and crun write one
 * object per line; runsc writes them back to back with no newline, so the text is split
 * into top-level JSON objects by brace depth rather than by lines.
 */
export function lastErrorMessage(logText: string): string | undefined {
  let last: string | undefined;
  for (const entry of jsonObjects(logText)) {
    if (entry.level === 'error' && typeof entry.msg === 'string') last = entry.msg;
  }
  return last;
}

function* jsonObjects(text: string): Generator<Record<string, unknown>> {
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      // JSON strings cannot hold a raw newline and no runtime pretty-prints its log, so a
      // newline ends whatever came before it, including an entry torn by a killed runtime.
      depth = 0;
      inString = false;
      escaped = false;
    } else if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = depth > 0;
    } else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && depth > 0 && --depth === 0) {
      try {
        yield JSON.parse(text.slice(start, i + 1));
      } catch {
        // Not JSON after all (foreign text in the log): the entries around it still count.
      }
    }
  }
}
