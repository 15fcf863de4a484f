import { rmSync } from 'node:fs';
import { containerd, google } from '../api/gen/proto.js';
import { TtrpcServer, type ServiceDef } from '../ttrpc/index.js';
import { EVENTS_SERVICE, decodeEventAny } from './task-api.js';

export interface RecordedEvent {
  topic: string;
  namespace: string;
  timestamp: string | null;
  event: unknown;
}

/**
 * containerd's Events service as a shim sees it (spec §4.4): a ttrpc server answering Forward
 * with Empty. Every envelope is recorded and handed to `onEvent`.
 */
export class EventRecorder {
  readonly events: RecordedEvent[] = [];
  readonly #servers: TtrpcServer[] = [];
  readonly #paths: string[] = [];

  constructor(private readonly onEvent: (e: RecordedEvent) => void = () => {}) {}

  async listen(path: string): Promise<void> {
    const server = new TtrpcServer();
    const forward: ServiceDef = {
      Forward: {
        decode: (b) => containerd.services.events.ttrpc.v1.ForwardRequest.decode(b),
        encode: () => google.protobuf.Empty.encode({}).finish(),
        handler: (req: containerd.services.events.ttrpc.v1.ForwardRequest) => {
          const env = req.envelope;
          const ts = env?.timestamp;
          const recorded: RecordedEvent = {
            topic: env?.topic ?? '',
            namespace: env?.namespace ?? '',
            timestamp: ts ? new Date(Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString() : null,
            event: decodeEventAny(env?.event),
          };
          this.events.push(recorded);
          this.onEvent(recorded);
          return {};
        },
      },
    };
    server.register(EVENTS_SERVICE, forward);
    await server.listen({ path });
    this.#servers.push(server);
    this.#paths.push(path);
  }

  /** Resolves true once an event matching `pred` has arrived, false after `timeoutMs`. */
  async waitFor(pred: (e: RecordedEvent) => boolean, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.events.some(pred)) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.shutdown({ graceMs: 1000 })));
    for (const p of this.#paths) rmSync(p, { force: true });
  }
}
