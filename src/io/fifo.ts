// libuv opens every file with O_CLOEXEC, so none of these handles leaks into runtime or container processes.
import { constants, openSync, closeSync } from 'node:fs';
import net from 'node:net';

/**
 * Opens a containerd FIFO for writing without ever blocking: O_RDWR on a FIFO returns at once on
 * Linux even with no reader yet, and holding the read side too means our writes never fail with
 * EPIPE while the client (ctr, CRI) is away; data waits in the pipe and back-pressure stalls the
 * copy instead. The read side is never read: readable is false.
 */
export function openFifoWriter(path: string): net.Socket {
  return new net.Socket({ fd: openFifoWriteFd(path), readable: false, writable: true });
}

/** The same open as openFifoWriter, as a bare fd (for a splice copy). */
export function openFifoWriteFd(path: string): number {
  return openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
}

/**
 * A read-only fd on an output FIFO that is never read: FIONREAD on it tells how much the
 * client has not yet taken, even after our write handle has been closed. It is not a writer,
 * so the client still sees end of file when we close ours.
 */
export function openFifoProbe(path: string): number {
  return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
}

/** Opens a containerd FIFO for reading without blocking for a writer (O_NONBLOCK). */
export function openFifoReader(path: string): net.Socket {
  return new net.Socket({ fd: openFifoReadFd(path), readable: true, writable: false });
}

/** The same open as openFifoReader, as a bare fd (for a splice copy). */
export function openFifoReadFd(path: string): number {
  return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
}

/**
 * A write handle on the stdin FIFO, held so the reader does not see EOF before the client has
 * opened its end (or between two writers). CloseIO releases it. Opening write-only non-blocking
 * succeeds because our own reader is already open.
 */
export function holdFifoOpenForWrite(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
}

export function closeFd(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}
