import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';

export interface CtrEvent {
  /** e.g. "/tasks/exit" */
  topic: string;
  namespace: string;
  /** the event payload as ctr prints it (JSON of the decoded protobuf message) */
  event: Record<string, unknown>;
  /** the timestamp text as printed by ctr */
  timestamp: string;
}

export interface EventStream {
  /** Every event seen so far, in arrival order. */
  readonly events: readonly CtrEvent[];
  /**
   * Resolves once `ctr events` is provably subscribed: only events published after that are
   * guaranteed to be seen. Await it before triggering what you want to observe.
   */
  readonly ready: Promise<void>;
  /** Resolves with the first event (already seen or future) matching pred; rejects on timeout. */
  waitFor(pred: (e: CtrEvent) => boolean, timeoutMs?: number): Promise<CtrEvent>;
  /** The topics seen so far, optionally only those of one container/task id. */
  topics(containerId?: string): string[];
  stop(): Promise<void>;
}

// ctr prints: <time.Time as "2006-01-02 15:04:05.999999999 -0700 MST"> <namespace> <topic> <json>
const LINE = /^(\S+ \S+ [+-]\d{4} \S+) (\S*) (\/\S+) ?(.*)$/;

export function parseEventLine(line: string): CtrEvent | undefined {
  const m = LINE.exec(line.trim());
  if (!m) return undefined;
  let event: Record<string, unknown> = {};
  if (m[4]) {
    try {
      event = JSON.parse(m[4]) as Record<string, unknown>;
    } catch {
      event = { unparsed: m[4] };
    }
  }
  return { timestamp: m[1]!, namespace: m[2]!, topic: m[3]!, event };
}

/** The container/task id an event is about, whatever its message type calls it. */
export function eventContainerId(e: CtrEvent): string | undefined {
  const ev = e.event;
  const id = ev['container_id'] ?? ev['containerID'] ?? ev['id'];
  return typeof id === 'string' ? id : undefined;
}

interface Waiter {
  pred: (e: CtrEvent) => boolean;
  resolve: (e: CtrEvent) => void;
}

export interface EventStreamDeps {
  ctrBin: string;
  baseArgs: string[];
  env: NodeJS.ProcessEnv;
  /** Publishes a uniquely named throw-away event so we can tell when the subscription is live. */
  publishMarker: (name: string) => Promise<void>;
  /** Removes whatever publishMarker created. */
  removeMarker: (name: string) => Promise<void>;
  describeFailure: () => string;
}

const MARKER_PREFIX = 'tsshim-harness-marker-';

function isMarker(e: CtrEvent): boolean {
  const name = e.event['name'];
  return e.topic.startsWith('/namespaces/') && typeof name === 'string' && name.startsWith(MARKER_PREFIX);
}

export class CtrEventStream implements EventStream {
  readonly events: CtrEvent[] = [];
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<Waiter>();
  private readonly markersSeen = new Set<string>();
  private stderr = '';
  private exited = false;
  private readonly exitedPromise: Promise<void>;

  constructor(private readonly deps: EventStreamDeps) {
    this.child = spawn(deps.ctrBin, [...deps.baseArgs, 'events'], { env: deps.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exitedPromise = new Promise((resolve) => {
      this.child.on('close', () => {
        this.exited = true;
        resolve();
      });
      this.child.on('error', (err) => {
        this.stderr += String(err);
        this.exited = true;
        resolve();
      });
    });
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    this.ready = this.awaitSubscription();
    // Callers that never await `ready` must not get an unhandled rejection.
    this.ready.catch(() => {});
  }

  private onLine(line: string): void {
    const e = parseEventLine(line);
    if (!e) return;
    if (isMarker(e)) {
      this.markersSeen.add(String(e.event['name']));
      return;
    }
    this.events.push(e);
    for (const w of this.waiters) {
      if (w.pred(e)) {
        this.waiters.delete(w);
        w.resolve(e);
      }
    }
  }

  private async awaitSubscription(): Promise<void> {
    // ctr prints nothing when it has subscribed, so publish markers until one comes back.
    for (let attempt = 0; attempt < 100; attempt++) {
      if (this.exited) throw new Error(`ctr events exited early: ${this.stderr}\n${this.deps.describeFailure()}`);
      const name = `${MARKER_PREFIX}${process.pid}-${Date.now().toString(36)}-${attempt}`;
      await this.deps.publishMarker(name);
      const deadline = Date.now() + 200;
      while (Date.now() < deadline && !this.markersSeen.has(name)) await sleep(10);
      await this.deps.removeMarker(name);
      if (this.markersSeen.has(name)) return;
    }
    throw new Error(`ctr events never delivered a marker event\n${this.stderr}\n${this.deps.describeFailure()}`);
  }

  waitFor(pred: (e: CtrEvent) => boolean, timeoutMs = 30_000): Promise<CtrEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `no matching event within ${timeoutMs} ms; seen: ${this.events.map((e) => e.topic).join(', ') || '(none)'}` +
              (this.exited ? `\nctr events has exited: ${this.stderr}` : '') +
              `\n${this.deps.describeFailure()}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  topics(containerId?: string): string[] {
    return this.events.filter((e) => containerId === undefined || eventContainerId(e) === containerId).map((e) => e.topic);
  }

  async stop(): Promise<void> {
    if (!this.exited) this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, 2000);
    await this.exitedPromise;
    clearTimeout(timer);
  }

  /** For emergency cleanup at process exit, where nothing can be awaited. */
  killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
