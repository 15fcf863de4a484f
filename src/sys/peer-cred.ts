import { native } from './native.js';

/** The pid, uid and gid of the process at the other end of a connected unix socket. */
export function getPeerCred(fd: number): { pid: number; uid: number; gid: number } {
  return native.getPeerCred(fd);
}
