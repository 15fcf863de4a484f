import type { ServiceDef } from '../ttrpc/index.js';
import { validateIdentifier } from '../api/identifiers.js';

/**
 * Task API methods whose id only names the shim's session, never a container: the reference shim
 * ignores it, and containerd's own clients may leave it empty. A non-empty one is still checked.
 */
const ID_OPTIONAL = new Set(['Connect', 'Shutdown']);

/**
 * Wraps every method of the Task service so that a request whose container id or exec id is not
 * a containerd identifier is refused with InvalidArgument before any handler sees it: ids become
 * paths (the bundle, runc's state dir, FIFOs, log files), so `../x` must never reach them.
 * An empty exec id means the init process and is allowed.
 */
export function withIdentifierChecks(service: ServiceDef): ServiceDef {
  const checked: ServiceDef = {};
  for (const [name, method] of Object.entries(service)) {
    const idOptional = ID_OPTIONAL.has(name);
    checked[name] = {
      ...method,
      handler: (req: { id?: string; execId?: string }, ctx) => {
        if (!idOptional || req.id) validateIdentifier('container id', req.id ?? '');
        if (req.execId) validateIdentifier('exec id', req.execId);
        return method.handler(req, ctx);
      },
    };
  }
  return checked;
}
