import type { Logger } from 'pino';
import { TtrpcClient } from '../ttrpc/index.js';
import { StatusError, Code } from '../errors/index.js';
import { containerd, google } from '../api/gen/proto.js';
import { toTimestamp } from '../api/timestamp.js';

const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
const NAMESPACE_KEY = 'containerd-namespace-ttrpc';
const FORWARD_TIMEOUT_MS = 5_000;
/**
 * While a flush waits (the daemon is exiting), how often a failed delivery is retried instead of
 * the back-off: containerd's socket may answer again at any moment (a restart reloads shims and
 * shuts some down before its ttrpc server listens), and the exit must not wait out seconds.
 */
const FLUSH_RETRY_MS = 50;

export interface QueuedEvent {
  topic: string;
  event: google.protobuf.IAny;
  timestamp: Date;
}

export interface PublisherOptions {
  /** containerd's ttrpc socket (TTRPC_ADDRESS), bare path or unix:// URL. */
  address: string;
  namespace: string;
  logger: Logger;
  /** Events kept while containerd cannot be reached; beyond it the oldest is dropped, loudly. */
  capacity?: number;
  /** Delay before retrying the head of the queue; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Retry interval while a flush waits; see FLUSH_RETRY_MS. */
  flushRetryMs?: number;
}

/**
 * Delivers task events to containerd's Events/Forward, one at a time, in the order they were
 * published. A failed delivery retries the same event (with back-off) instead of re-queueing it
 * behind newer ones, so containerd never sees an exit before the start it follows, and an event
 * survives a containerd restart.
 */
export class EventPublisher {
  private readonly queue: QueuedEvent[] = [];
  private readonly capacity: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly flushRetryMs: number;
  private client: TtrpcClient | undefined;
  private running = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private readonly address: string;

  constructor(private readonly opts: PublisherOptions) {
    this.capacity = opts.capacity ?? 4096;
    this.backoffMs = opts.backoffMs ?? 100;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5_000;
    this.flushRetryMs = opts.flushRetryMs ?? FLUSH_RETRY_MS;
    this.address = opts.address.replace(/^unix:\/\//, '');
  }

  publish(topic: string, typeUrl: string, value: Uint8Array): void {
    if (this.closed) {
      this.opts.logger.error({ topic }, 'event published after the publisher was closed; dropped');
      return;
    }
    if (this.queue.length >= this.capacity) {
      const dropped = this.queue.shift()!;
      this.opts.logger.error({ topic: dropped.topic, capacity: this.capacity }, 'event queue full; dropping the oldest event');
    }
    this.queue.push({ topic, event: { typeUrl, value }, timestamp: new Date() });
    void this.drain();
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * Resolves once every queued event is delivered, or after timeoutMs (returns false then).
   * Until then failed deliveries are retried every flushRetryMs, not after the back-off.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.queue.length === 0 && !this.running) return true;
    // Retry immediately instead of sleeping out a back-off while someone waits for the flush.
    this.wakeRetry?.();
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  close(): void {
    this.closed = true;
    this.wakeRetry?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.client?.close();
    this.client = undefined;
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    let delay = this.backoffMs;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const head = this.queue[0];
        try {
          await this.forward(head);
          this.queue.shift();
          delay = this.backoffMs;
        } catch (err) {
          const e = StatusError.from(err);
          if (e.code === Code.InvalidArgument) {
            // containerd refused the envelope itself; retrying cannot help.
            this.opts.logger.error({ err: e, topic: head.topic }, 'containerd rejected event; dropped');
            this.queue.shift();
            continue;
          }
          const flushing = this.idleWaiters.length > 0;
          const wait = flushing ? Math.min(delay, this.flushRetryMs) : delay;
          // While flushing, a retry every few ms would flood the log: only the first is told.
          if (!flushing || delay === this.backoffMs) this.opts.logger.warn({ err: e, topic: head.topic, retryInMs: wait }, 'event delivery failed; will retry');
          this.client?.close();
          this.client = undefined;
          await this.sleep(wait);
          delay = Math.min(delay * 2, this.maxBackoffMs);
        }
      }
    } finally {
      this.running = false;
      if (this.queue.length === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = () => {
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.wakeRetry = undefined;
        resolve();
      };
      this.retryTimer = setTimeout(this.wakeRetry, ms);
    });
  }

  private async forward(ev: QueuedEvent): Promise<void> {
    if (!this.client || this.client.closed) {
      this.client = await TtrpcClient.connect(this.address, { connectTimeoutMs: FORWARD_TIMEOUT_MS });
    }
    const payload = containerd.services.events.ttrpc.v1.ForwardRequest.encode({
      envelope: {
        timestamp: toTimestamp(ev.timestamp),
        namespace: this.opts.namespace,
        topic: ev.topic,
        event: ev.event,
      },
    }).finish();
    await this.client.call(EVENTS_SERVICE, 'Forward', payload, {
      timeoutMs: FORWARD_TIMEOUT_MS,
      metadata: [[NAMESPACE_KEY, this.opts.namespace]],
    });
  }
}
