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
