// The developer toolkit's wiring (docs/toolkit.md): tracing, fault injection and hooks, applied
// as wrappers around the Task method table, the runtime driver and the event sink. With nothing
// configured every wrapper passes straight through.
import { appendFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { decodeEventAny } from '../api/event-json.js';
import { Code, StatusError } from '../errors/index.js';
import { FaultInjector, describeAction, type FaultTarget } from '../faults/fault-injector.js';
import { loadHooks, taskHooks } from '../hooks/hook-runner.js';
import type { FaultRule, ShimConfig } from '../runtime/config.js';
import { ALL_COMMANDS, type RuntimeCommand } from '../runtime/dialects.js';
import type { RuntimeInvocation } from '../runtime/runtime-driver.js';
import { RuntimeCommandError } from '../runtime/runtime-errors.js';
import type { TaskHooks } from '../task/task-hooks.js';
import type { EventSink } from '../task/task-events.js';
import type { TaskRuntime } from '../task/task-runtime.js';
import { summarize } from '../trace/summarize.js';
import { TraceWriter, type TraceRecord } from '../trace/trace-writer.js';
import type { CallContext, MethodDef, ServiceDef } from '../ttrpc/index.js';

/** A trace directory containerd passes on in its environment (or its shim manager's `env` list). */
export const TRACE_ENV = 'TSSHIM_TRACE';
const STDERR_TAIL = 512;

export class Toolkit {
  #tracer: TraceWriter | undefined;
  #injector = new FaultInjector([]);
  #faultsKey = '[]';
  /** Configs read for a Create still in flight, by task id, so bindRuntime need not read them again. */
  readonly #prepared = new Map<string, ShimConfig>();

  constructor(
    private readonly ids: { namespace: string; id: string },
    private readonly logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    if (env[TRACE_ENV]) this.#openTrace(env[TRACE_ENV]);
  }

  /** Takes up the toolkit settings of a config just read for a Create. */
  configure(config: ShimConfig): void {
    if (config.trace && !this.#tracer) this.#openTrace(config.trace.dir);
    // Rules of an unchanged config keep their remaining counts across Creates.
    const key = JSON.stringify(config.faults);
    if (key !== this.#faultsKey) {
      this.#faultsKey = key;
      this.#injector = new FaultInjector(config.faults);
    }
  }

  /**
   * The Task method table with faults and tracing around each handler. `prepare` reads the
   * config a Create names, so faults on Create already apply to the first Create of a daemon.
   */
  wrapMethods(def: ServiceDef, prepare: (req: any) => Promise<ShimConfig | undefined>): ServiceDef {
    const out: ServiceDef = {};
    for (const [method, m] of Object.entries(def)) {
      out[method] = {
        ...m,
        handler: async (req: any, ctx: CallContext) => {
          const started = performance.now();
          try {
            if (method === 'Create') {
              // A config that fails here is read again by bindRuntime, which reports its problems.
              const config = await prepare(req).catch(() => undefined);
              if (config) {
                this.configure(config);
                this.#prepared.set(req.id, config);
              }
            }
            if (!this.#injector.empty) await this.#injectCall({ method }, req?.id, ctx);
            const res = await m.handler(req, ctx);
            this.#traceCall(method, ctx, req, res, undefined, started);
            return res;
          } catch (err) {
            this.#traceCall(method, ctx, req, undefined, err, started);
            throw err;
          } finally {
            if (method === 'Create') this.#prepared.delete(req.id);
          }
        },
      } satisfies MethodDef;
    }
    return out;
  }

  /** The config the current Create of `id` was prepared with, handed out once. */
  takePreparedConfig(id: string): ShimConfig | undefined {
    const config = this.#prepared.get(id);
    this.#prepared.delete(id);
    return config;
  }

  /** The event sink, recording each event before it is handed on. */
  wrapEvents(sink: EventSink): EventSink {
    return {
      publish: (topic, typeUrl, value) => {
        if (this.#tracer) {
          const event = decodeEventAny({ typeUrl, value }) as Record<string, unknown> | null;
          this.#trace({ kind: 'event', topic, id: (event?.containerId as string | undefined) ?? undefined, event: summarize(event) });
        }
        sink.publish(topic, typeUrl, value);
      },
    };
  }

  /** For RuntimeContext.onInvocation: every runtime run in the trace. */
  invocationObserver(id: string): (inv: RuntimeInvocation) => void {
    return (inv) => {
      if (!this.#tracer) return;
      this.#trace({
        kind: 'runtime', id, command: inv.command, argv: inv.argv, cwd: inv.cwd, env: { ...inv.env }, ms: inv.ms,
        exitCode: inv.exitCode, signal: inv.signal, ...(inv.timedOut ? { timedOut: true } : {}),
        ...(inv.stderr ? { stderrTail: inv.stderr.slice(-STDERR_TAIL) } : {}),
      });
    };
  }

  /** The runtime with the config's runtime faults in front of each command. */
  wrapRuntime(runtime: TaskRuntime, binary: string): TaskRuntime {
    return new Proxy(runtime, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || !(ALL_COMMANDS as readonly string[]).includes(prop as string)) return value;
        const command = prop as RuntimeCommand;
        return async (...args: unknown[]) => {
          const first = args[0];
          const id = typeof first === 'string' ? first : (first as { id?: string } | undefined)?.id;
          const rule = this.#injector.empty ? undefined : this.#injector.pick({ runtime: command }, id);
          if (rule) await this.#injectRuntime(rule, command, binary, id);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  /** The config's hooks module as the task layer calls it; undefined when it names none. */
  async hooksFor(config: ShimConfig): Promise<TaskHooks | undefined> {
    if (!config.hooks) return undefined;
    const hooks = await loadHooks(config.hooks);
    return taskHooks(hooks, config.hooks, this.ids.namespace, (r) => {
      if (r.error) this.logger.error({ hook: r.hook, id: r.id, error: r.error }, 'hook failed');
      this.#trace({ kind: 'hook', hook: r.hook, id: r.id, ms: r.ms, ...(r.error ? { error: r.error } : {}) });
    });
  }

  close(): Promise<void> {
    return this.#tracer?.close() ?? Promise.resolve();
  }

  #openTrace(dir: string): void {
    const path = join(dir, `${this.ids.namespace}-${this.ids.id}-${process.pid}.jsonl`);
    try {
      this.#tracer = new TraceWriter(path);
    } catch (err) {
      this.logger.error({ err, path }, 'cannot open the trace file; tracing stays off');
      return;
    }
    this.logger.info({ path }, 'tracing to file');
    this.#trace({ kind: 'start', pid: process.pid, namespace: this.ids.namespace, id: this.ids.id, node: process.version });
  }

  #trace(record: TraceRecord): void {
    this.#tracer?.write(record);
  }

  #traceCall(method: string, ctx: CallContext, req: any, res: unknown, err: unknown, started: number): void {
    if (!this.#tracer) return;
    const status = err === undefined ? undefined : StatusError.from(err);
    this.#trace({
      kind: 'rpc', service: ctx.service, method, id: req?.id || undefined, execId: req?.execId || undefined,
      request: summarize(req), response: status ? undefined : summarize(res), code: status?.code ?? 0,
      ...(status ? { message: status.message } : {}), ms: performance.now() - started,
    });
  }

  #report(rule: FaultRule, target: FaultTarget, id: string | undefined): void {
    const name = 'method' in target ? target.method : `runtime ${target.runtime}`;
    this.logger.warn({ fault: rule.index, target: name, id, action: describeAction(rule) }, 'injected fault');
    this.#trace({ kind: 'fault', target: name, id, action: rule.action.kind, detail: describeAction(rule) });
  }

  async #injectCall(target: { method: string }, id: string | undefined, ctx: CallContext): Promise<void> {
    const rule = this.#injector.pick(target, id);
    if (!rule) return;
    this.#report(rule, target, id);
    const a = rule.action;
    if (a.kind === 'error') throw new StatusError(a.code, a.message);
    if (a.kind === 'delay') await sleep(a.ms);
    if (a.kind === 'hang') {
      await new Promise<never>((_, reject) => {
        const fail = () => reject(new StatusError(Code.DeadlineExceeded, `${target.method}: context deadline exceeded (injected hang)`));
        if (ctx.signal.aborted) fail();
        else ctx.signal.addEventListener('abort', fail, { once: true });
      });
    }
    if (a.kind === 'crash') this.#crash(rule, target.method);
  }

  async #injectRuntime(rule: FaultRule, command: RuntimeCommand, binary: string, id: string | undefined): Promise<void> {
    this.#report(rule, { runtime: command }, id);
    const a = rule.action;
    if (a.kind === 'delay') return sleep(a.ms);
    if (a.kind === 'crash') this.#crash(rule, `runtime ${command}`);
    if (a.kind === 'error') throw new StatusError(a.code, a.message);
    if (a.kind === 'runtime-fail') {
      const argv = [binary, command, ...(id ? [id] : [])];
      this.#trace({ kind: 'runtime', id, command, argv, env: {}, ms: 0, exitCode: 1, stderrTail: a.stderr, injected: true });
      // As the driver reports a failed run: the runtime's first line of error text.
      throw new RuntimeCommandError(Code.Unknown, a.stderr.split('\n')[0]!, { exitCode: 1, argv });
    }
  }

  /** A crash as the real thing: no cleanup, no reply. The reason goes out synchronously first. */
  #crash(rule: FaultRule, target: string): never {
    const text = `tsshim: injected crash (faults[${rule.index}], ${target})`;
    try {
      writeSync(2, `${text}\n`);
      if (this.#tracer) appendFileSync(this.#tracer.path, `${JSON.stringify({ t: Date.now(), kind: 'fault', target, action: 'crash' })}\n`);
    } catch {
      // Nowhere left to say it.
    }
    process.kill(process.pid, 'SIGKILL');
    throw new Error('unreachable');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
