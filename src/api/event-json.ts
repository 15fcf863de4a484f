import { containerd, type google } from './gen/proto.js';
import { TypeUrls } from './any.js';

interface MessageType {
  decode(b: Uint8Array): object;
}

const E = containerd.events;
const EVENT_TYPES: Record<string, MessageType> = {
  [TypeUrls.TaskCreate]: E.TaskCreate,
  [TypeUrls.TaskStart]: E.TaskStart,
  [TypeUrls.TaskExit]: E.TaskExit,
  [TypeUrls.TaskDelete]: E.TaskDelete,
  [TypeUrls.TaskOOM]: E.TaskOOM,
  [TypeUrls.TaskExecAdded]: E.TaskExecAdded,
  [TypeUrls.TaskExecStarted]: E.TaskExecStarted,
  [TypeUrls.TaskPaused]: E.TaskPaused,
  [TypeUrls.TaskResumed]: E.TaskResumed,
  [TypeUrls.TaskCheckpointed]: E.TaskCheckpointed,
};

/** An event payload as JSON-ready data: decoded when the type is known, else base64. */
export function decodeEventAny(any: google.protobuf.IAny | null | undefined): unknown {
  if (!any?.typeUrl) return null;
  const name = any.typeUrl.replace(/^.*\//, '');
  const type = EVENT_TYPES[name];
  const value = any.value ?? new Uint8Array(0);
  if (!type) return { typeUrl: any.typeUrl, value: Buffer.from(value).toString('base64') };
  return toJson(type.decode(value));
}

/**
 * Plain JSON for a decoded message: bytes as base64, 64-bit integers as numbers, Timestamps as
 * RFC 3339 strings, Any values decoded when they are events.
 */
export function toJson(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.toNumber === 'function' && 'low' in o) return (o as unknown as { toNumber(): number }).toNumber();
    if ('seconds' in o && 'nanos' in o && Object.keys(o).length <= 2) return timestampText(o);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = toJson(v);
    return out;
  }
  return value;
}

function timestampText(t: Record<string, unknown>): string {
  const seconds = Number(typeof t.seconds === 'object' ? (t.seconds as { toNumber(): number }).toNumber() : t.seconds ?? 0);
  const nanos = Number(t.nanos ?? 0);
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
}
