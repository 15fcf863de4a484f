/** Longest string kept whole in a trace; longer ones are cut (an OCI spec, a big env). */
const MAX_STRING = 512;
/** Byte fields up to this size are shown (base64); larger ones only by their length. */
const MAX_BYTES = 96;

/**
 * A decoded protobuf message as plain JSON data for the trace, with large fields elided and
 * JSON payloads (exec process specs, OCI resources) shown as objects.
 */
export function summarize(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value;
  if (depth > 12) return '<nested too deep>';
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…<${value.length - MAX_STRING} more chars>` : value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) {
    if (value.length > 0 && (value[0] === 0x7b || value[0] === 0x5b)) {
      try {
        return summarize(JSON.parse(Buffer.from(value).toString('utf8')), depth + 1);
      } catch {
        // Not JSON after all: shown as bytes.
      }
    }
    return value.length > MAX_BYTES ? `<${value.length} bytes>` : Buffer.from(value).toString('base64');
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, 64).map((v) => summarize(v, depth + 1));
    return value.length > 64 ? [...items, `<${value.length - 64} more>`] : items;
  }
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.toNumber === 'function' && 'low' in o) return (o as unknown as { toNumber(): number }).toNumber();
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'function') continue;
      out[k] = summarize(v, depth + 1);
    }
    return out;
  }
  return value;
}
