import { rmSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { TtrpcServer } from '../ttrpc/index.js';
import { Reaper, collectGarbage, getPeerCred, keepBytecode, mountAll, trimMalloc, unmountRecursive } from '../sys/index.js';
import { EventPublisher } from '../events/publisher.js';
import { ExitRouter } from '../task/exit-router.js';
import { TaskEvents } from '../task/task-events.js';
import { TaskService } from '../task/service.js';
import { TASK_SERVICE_NAMES, taskMethods } from '../task/task-api-methods.js';
import type { ShimFlags } from './flags.js';
import { createLogger } from './logger.js';
import { bindRuntime, configFor, decodeOptions } from './runtime-binding.js';
import type { BoundSocket } from './socket-binding.js';
import { Toolkit } from './toolkit.js';
import type { RuntimeRequest } from '../task/service.js';
import { idleExitMs, watchIdle } from './idle-exit.js';
import { watchIdleMemory } from './idle-memory.js';
import { withIdentifierChecks } from '../task/request-ids.js';

export interface ServeOptions {
  /** The socket to serve on, bound by the caller (bindSocket), so whether to serve is decided there. */
  socket: BoundSocket;
  /** Called once calls are accepted. */
  onListening?: () => void;
}

/** Bound on delivering the last events (e.g. /tasks/delete) before the daemon exits. */
const EVENT_FLUSH_MS = 5_000;
const CALL_GRACE_MS = 2_000;
const KEEP_BYTECODE_AFTER_MS = 1_000;

function installCrashHandlers(logger: Logger): void {
  const die = (kind: string) => (err: unknown) => {
    // Written synchronously to fd 2 (the log FIFO) as well: an async log line may never leave.
    const text = err instanceof Error ? err.stack ?? err.message : String(err);
    try {
      writeSync(2, `tsshim: fatal ${kind}: ${text}\n`);
    } catch {
      // No stderr left to report on.
    }
    logger.fatal({ err }, `fatal ${kind}`);
    process.exit(1);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled rejection'));
}

/**
 * The long-lived daemon: becomes the subreaper of its containers, serves the Task API on a unix
 * socket under the v2 and v3 names, and exits after Shutdown once it holds no task.
 */
export async function serve(flags: ShimFlags, opts: ServeOptions): Promise<void> {
  const bundle = process.cwd();
  const logger = createLogger(bundle, { debug: flags.debug, namespace: flags.namespace, id: flags.id });
  installCrashHandlers(logger);

  const reaper = Reaper.get();
  const router = new ExitRouter(logger);
  reaper.on('exit', (e) => router.dispatch(e));

  const ttrpcAddress = process.env.TTRPC_ADDRESS || `${flags.address}.ttrpc`;
  const publisher = new EventPublisher({ address: ttrpcAddress, namespace: flags.namespace, logger });
  // Toolkit (docs/toolkit.md): tracing, faults and hooks wrap the event sink, the method table and the runtime.
  const toolkit = new Toolkit({ namespace: flags.namespace, id: flags.id }, logger);
  const events = new TaskEvents(toolkit.wrapEvents(publisher));

  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  const server = new TtrpcServer({
    // Same check as the reference shim: only a peer with our own uid and gid may drive us.
    authorize: (sock) => {
      const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (fd === undefined || fd < 0) return false;
      const cred = getPeerCred(fd);
      return cred.uid === euid && cred.gid === egid;
    },
    onError: (err) => logger.error({ err }, 'ttrpc server error'),
  });

  let stopping = false;
  let stopWatches = () => {};
  const socketPath = opts.socket.path;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    // A process on its way out has no memory to give back: no GC pause between closing the
    // connections and exiting, which containerd waits for.
    stopWatches();
    logger.info({ reason }, 'shim shutting down');
    const pending = publisher.pending;
    if (!(await publisher.flush(EVENT_FLUSH_MS))) logger.error({ pending: publisher.pending }, 'events not delivered before exit');
    else if (pending > 0) logger.info({ delivered: pending }, 'pending events delivered before exit');
    publisher.close();
    await server.shutdown({ graceMs: CALL_GRACE_MS });
    await toolkit.close();
    if (socketPath) rmSync(socketPath, { force: true });
    process.exit(0);
  };

  const service = new TaskService({
    namespace: flags.namespace,
    logger,
    router,
    events,
    bindRuntime: (req) => bindRuntime(req, { namespace: flags.namespace, logger: logger.child({ id: req.id }), toolkit }),
    mountRootfs: (mounts, rootfs) =>
      mountAll(mounts.map((m) => ({ type: m.type ?? '', source: m.source ?? '', target: m.target ?? '', options: m.options ?? [] })), rootfs),
    unmountRootfs: (rootfs) => unmountRecursive(rootfs),
    // Let the Shutdown reply go out before the server closes.
    shutdown: () => setImmediate(() => void stop('Shutdown')),
  });
  const methods = toolkit.wrapMethods(
    withIdentifierChecks(taskMethods(service)),
    (req: { options?: RuntimeRequest['options'] }) => configFor(decodeOptions(req.options)),
  );
  for (const name of TASK_SERVICE_NAMES) server.register(name, methods);

  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  server.adopt(opts.socket.listener, opts.socket.handOver());
  opts.onListening?.();
  const idleMs = idleExitMs();
  watchIdle({
    boundMs: idleMs,
    taskCount: () => service.containerCount,
    onIdle: () => {
      logger.warn({ idleMs }, `held no task for ${idleMs} ms and containerd sent no Shutdown: exiting`);
      void stop('idle');
    },
  });
  // A second in: by then V8 has run few major GCs (flushing needs several), and loading node:v8
  // stays off the first Create's path.
  setTimeout(keepBytecode, KEEP_BYTECODE_AFTER_MS).unref();
  stopWatches = watchIdleMemory({
    reduce: () => {
      collectGarbage();
      trimMalloc();
    },
    onReduced: (before, after, costMs) =>
      logger.debug({ rssBefore: before, rssAfter: after, costMs: Math.round(costMs * 10) / 10 }, 'idle: memory given back'),
  });
  logger.info({ id: flags.id, pid: process.pid, node: process.version, bootMs: Math.round(process.uptime() * 1000) }, 'shim serving');
}
