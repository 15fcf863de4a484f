import type { google } from '../api/gen/proto.js';
import type { Grouping } from '../runtime/config.js';

/**
 * The grouping of the config `start` would load: from the runtime options containerd wrote on
 * stdin (handed on by the packaged binary's front end), else $TSSHIM_CONFIG, else the default
 * file. Only needed when the front end could not derive the group socket itself, so the
 * modules it takes are loaded here, not at start-up.
 */
export async function groupingAtStart(options: google.protobuf.IAny | undefined): Promise<Grouping> {
  const { configFor, decodeOptions } = await import('./runtime-binding.js');
  try {
    return (await configFor(decodeOptions(options))).grouping;
  } catch {
    // A config that does not load is Create's to report, precisely (file, key, expectation):
    // `start` serves the default grouping ("pod") so that the Create can be made to say so.
    return 'pod';
  }
}
