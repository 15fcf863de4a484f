import { native } from './native.js';

/** A close-on-exec eventfd, e.g. to register with a cgroup v1 memory.oom_control. */
export function eventfd(): number {
  return native.eventfd();
}
