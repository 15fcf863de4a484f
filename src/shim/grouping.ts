import { fstatSync, readFileSync } from 'node:fs';
import type { Grouping } from '../runtime/config.js';

/**
 * The grouping of the config `start` would load: from the runtime options containerd wrote on
 * stdin (handed on by the packaged binary's front end), else $TSSHIM_CONFIG, else the default
 * file. Only needed when the front end could not derive the group socket itself, so the
 * modules it takes are loaded here, not at start-up.
 */
export async function groupingAtStart(): Promise<Grouping> {
  let raw: Buffer | undefined;
  try {
    const st = fstatSync(0);
    if (st.isFIFO() || st.isFile() || st.isSocket()) raw = readFileSync(0);
  } catch {
    // No stdin: no options.
  }
  const [{ google }, { configFor, decodeOptions }] = await Promise.all([import('../api/gen/proto.js'), import('./runtime-binding.js')]);
  const options = raw?.length ? google.protobuf.Any.decode(raw) : undefined;
  return (await configFor(decodeOptions(options))).grouping;
}
