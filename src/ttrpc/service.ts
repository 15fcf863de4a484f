import { Code } from '../errors/index.js';
import type { Metadata } from './metadata.js';
import { StatusError } from '../errors/index.js';

export interface CallContext {
  service: string;
  method: string;
  metadata: Metadata;
  /** Aborts at the deadline from timeout_nano, when the connection closes, or when the transport
   * has already answered the stream with an error (the handler's result would be dropped). */
  signal: AbortSignal;
  /** Epoch milliseconds. */
  deadline?: number;
}

export interface MethodDef<Req = any, Res = any> {
  decode(bytes: Uint8Array): Req;
  encode(res: Res): Uint8Array;
  handler(req: Req, ctx: CallContext): Promise<Res> | Res;
}

export type ServiceDef = Record<string, MethodDef>;

export class ServiceRegistry {
  #services = new Map<string, ServiceDef>();

  register(serviceName: string, service: ServiceDef): void {
    if (this.#services.has(serviceName)) throw new Error(`duplicate service ${serviceName} registered`);
    this.#services.set(serviceName, service);
  }

  /** Resolves a method, or throws the Unimplemented error Go ttrpc answers with (containerd 2.x
   * relies on code 12 to fall back from Task v3 to v2). */
  lookup(service: string, method: string): MethodDef {
    const def = this.#services.get(service);
    if (!def) throw new StatusError(Code.Unimplemented, `service ${service}`);
    if (!Object.hasOwn(def, method)) throw new StatusError(Code.Unimplemented, `method ${method}`);
    return def[method]!;
  }
}
