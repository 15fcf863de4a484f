import { native } from './native.js';

/**
 * A real pipe (pipe2 with O_CLOEXEC) for container stdio. Not a socketpair: a socket as
 * stdout makes `echo > /dev/stdout` fail with ENXIO inside the container. Both ends are
 * blocking, which is what the container side wants; `new net.Socket({ fd })` switches its
 * own end to non-blocking.
 */
export function createPipe(): { readFd: number; writeFd: number } {
  return native.pipe2();
}

/**
 * How many bytes wait to be read (FIONREAD) in a pipe, FIFO or pty master: on any end of a
 * pipe or FIFO, so a writer can tell whether its reader has taken what was written.
 */
export function bytesQueued(fd: number): number {
  return native.bytesQueued(fd);
}
