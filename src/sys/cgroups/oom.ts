import { closeSync, existsSync, openSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { eventfd, watchEventfd } from '../eventfd.js';
import { readFlatKeyedSync } from './files.js';
import type { CgroupLocation } from './paths.js';

export interface OomWatch {
  /**
   * Settles once every OOM kill the kernel has recorded so far has been reported. Await it
   * before announcing the container's exit, so its OOM event comes first: the kernel records
   * the OOM before it sends SIGKILL, but the notification may still be waiting in the loop.
   */
  settled(): Promise<void>;
  close(): void;
}

export interface OomHandlers {
  onOom(): void;
  onError(err: Error): void;
}

/**
 * Watches the container's memory cgroup for OOM kills, as the reference shim does: on v1 an
 * eventfd registered for memory.oom_control through cgroup.event_control; on v2 changes of the
 * `oom_kill` counter in memory.events (not `oom`, which also counts OOMs that killed nothing).
 * Undefined when there is no memory controller to watch. The cgroup files are the kernel's, read
 * and written synchronously: the watch is armed on the path of every Create, and the counter
 * read on every init exit.
 */
export function watchOom(cgroup: CgroupLocation, handlers: OomHandlers): OomWatch | undefined {
  if (cgroup.version === 2) return watchV2(cgroup.path, handlers);
  const memory = cgroup.controllers.get('memory');
  return memory ? watchV1(memory, handlers) : undefined;
}

/** Runs reports one at a time, in order, so settled() can wait for all that are queued. */
class ReportQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly onError: (err: Error) => void) {}
  push(report: () => void): Promise<void> {
    this.tail = this.tail.then(report).catch((err: Error) => this.onError(err));
    return this.tail;
  }
  idle(): Promise<void> {
    return this.tail;
  }
}

function watchV1(dir: string, { onOom, onError }: OomHandlers): OomWatch {
  const efd = eventfd();
  try {
    const control = openSync(join(dir, 'memory.oom_control'), 'r');
    try {
      writeFileSync(join(dir, 'cgroup.event_control'), `${efd} ${control}`);
    } finally {
      closeSync(control);
    }
  } catch (err) {
    closeSync(efd);
    throw err;
  }
  const queue = new ReportQueue(onError);
  // The kernel also signals the eventfd when the cgroup is removed; that is no OOM.
  const report = () => queue.push(() => {
    if (existsSync(dir)) onOom();
  });
  const w = watchEventfd(efd, () => void report(), onError);
  let closed = false;
  return {
    settled: () => {
      let pending = 0;
      try {
        if (!closed) pending = w.drain();
      } catch (err) {
        onError(err as Error);
      }
      return pending > 0 ? report() : queue.idle();
    },
    close: () => {
      closed = true;
      w.close();
    },
  };
}

function watchV2(dir: string, { onOom, onError }: OomHandlers): OomWatch {
  const path = join(dir, 'memory.events');
  const oomKills = () => readFlatKeyedSync(path)?.get('oom_kill');
  let seen = oomKills() ?? 0n;
  const queue = new ReportQueue(onError);
  const report = () => queue.push(() => {
    const now = oomKills();
    if (now === undefined || now <= seen) return;
    seen = now;
    onOom();
  });
  // inotify (IN_MODIFY) on memory.events: the kernel notifies on every counter change.
  const watcher: FSWatcher = watch(path, { persistent: false }, () => void report());
  watcher.on('error', onError);
  return {
    settled: () => report(),
    close: () => watcher.close(),
  };
}
