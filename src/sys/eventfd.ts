import { native } from './native.js';

/** A close-on-exec eventfd, e.g. to register with a cgroup v1 memory.oom_control. */
export function eventfd(): number {
  return native.eventfd();
}

export interface EventfdWatch {
  /** Reads signals the callback has not seen yet (0 if none); they are not delivered again. */
  drain(): number;
  /** Stops watching and closes the eventfd. Idempotent. */
  close(): void;
}

/**
 * Calls onSignal on the event loop each time the eventfd is signalled, with the counter it
 * read. The watch takes over the fd (also when this throws) and makes it non-blocking; it does
 * not keep the process alive. A read error is reported once through onError, then the watch
 * stays silent until closed.
 */
export function watchEventfd(fd: number, onSignal: (count: number) => void, onError: (err: Error) => void): EventfdWatch {
  const handle = native.watchEventfd(fd, (err, count) => (err ? onError(err) : onSignal(count)));
  return {
    drain: () => native.drainEventfd(handle),
    close: () => native.closeEventfdWatch(handle),
  };
}
