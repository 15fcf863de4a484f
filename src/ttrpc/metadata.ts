import type { ttrpc } from '../api/gen/proto.js';

/** ttrpc metadata: a multimap whose keys are lower-cased, like Go's ttrpc.MD. */
export type Metadata = Map<string, string[]>;

export type MetadataInit = Record<string, string> | Array<[string, string]>;

export function metadataFromKeyValues(pairs: readonly ttrpc.KeyValue.$Properties[] | null | undefined): Metadata {
  const md: Metadata = new Map();
  for (const { key, value } of pairs ?? []) {
    const name = (key ?? '').toLowerCase();
    const values = md.get(name);
    if (values) values.push(value ?? '');
    else md.set(name, [value ?? '']);
  }
  return md;
}

export function keyValuesFromInit(init: MetadataInit | undefined): ttrpc.KeyValue.$Properties[] {
  if (!init) return [];
  const entries = Array.isArray(init) ? init : Object.entries(init);
  return entries.map(([key, value]) => ({ key: key.toLowerCase(), value }));
}
