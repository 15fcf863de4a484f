import { Code, StatusError, TtrpcClient } from '../ttrpc/index.js';
import { NAMESPACE_KEY, TASK_METHODS, TASK_SERVICE_V2, TASK_SERVICE_V3, toJson } from './task-api.js';

/**
 * One Task API call with a JSON request (field names in lowerCamelCase or snake_case; bytes as
 * base64). Prints the JSON response, or the status code and message and exits 1.
 */
export async function call(o: { socket: string; namespace: string; method: string; json?: string }): Promise<number> {
  const slash = o.method.lastIndexOf('/');
  const explicitService = slash > 0 ? o.method.slice(0, slash) : undefined;
  const method = slash > 0 ? o.method.slice(slash + 1) : o.method;
  const types = TASK_METHODS[method];
  if (!types) throw new StatusError(Code.InvalidArgument, `unknown Task API method ${method} (one of: ${Object.keys(TASK_METHODS).join(', ')})`);
  let request: object;
  try {
    request = camelKeys(o.json ? JSON.parse(o.json) : {}) as object;
  } catch (err) {
    throw new Error(`request is not valid JSON: ${(err as Error).message}`);
  }
  const payload = types.req.encode(request).finish();
  const client = await TtrpcClient.connect(o.socket, { connectTimeoutMs: 10_000 });
  const opts = { metadata: { [NAMESPACE_KEY]: o.namespace }, timeoutMs: 60_000 };
  try {
    let reply: Uint8Array;
    if (explicitService) {
      reply = await client.call(explicitService, method, payload, opts);
    } else {
      reply = await client.call(TASK_SERVICE_V3, method, payload, opts).catch((err: unknown) => {
        if (err instanceof StatusError && err.code === Code.Unimplemented && /service/.test(err.message)) {
          return client.call(TASK_SERVICE_V2, method, payload, opts);
        }
        throw err;
      });
    }
    process.stdout.write(`${JSON.stringify(toJson(types.res.decode(reply)), null, 2)}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof StatusError)) throw err;
    process.stderr.write(`${JSON.stringify({ code: err.code, codeName: Code[err.code] ?? String(err.code), message: err.message })}\n`);
    return 1;
  } finally {
    client.close();
  }
}

function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camelKeys(x)]));
}
