import { native, type SpliceHandle } from './native.js';

/** A copy from a pipe to a pipe or FIFO that runs in the kernel (splice(2)), on the event loop. */
export interface SpliceCopy {
  /** Bytes moved to the destination so far. */
  readonly bytes: number;
  /** Bytes waiting in the source pipe (0 once the copy is over). */
  readonly queued: number;
  /** Whether the copy is over: the source ended, it failed, or it was closed. */
  readonly ended: boolean;
  /** Stops the copy and closes both fds; `onEnd` is not called. */
  close(): void;
}

/**
 * Moves everything written to the pipe `srcFd` into `dstFd` (a pipe or FIFO) without the bytes
 * entering this process: the kernel moves pipe buffers, where a stream copy reads every chunk
 * into a Buffer and writes it out again. Back-pressure is the kernel's: a full destination
 * stops the copy until it is writable, and the source then blocks its writer. `onEnd` is called
 * once, at the source's end of file (err null) or on a failure. The copy owns both fds from
 * this call on and closes them when it is over.
 */
export function spliceCopy(srcFd: number, dstFd: number, onEnd: (err: Error | null, bytes: number) => void): SpliceCopy {
  const handle: SpliceHandle = native.spliceCopy(srcFd, dstFd, onEnd);
  return {
    get bytes() {
      return native.spliceStatus(handle).bytes;
    },
    get queued() {
      return native.spliceStatus(handle).queued;
    },
    get ended() {
      return native.spliceStatus(handle).ended;
    },
    close: () => native.closeSpliceCopy(handle),
  };
}
