import type { Socket } from 'node:net';

/** Where a connection writes its frames; a socket in production, a recorder in tests. */
export interface FrameSink {
  write(frame: Buffer): void;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /** Flush what is queued, then close. */
  end(): void;
  /** Close now, dropping what is queued. */
  destroy(): void;
}

/** Frames written in the same tick leave in one writev, which matters under many concurrent calls. */
export function socketSink(socket: Socket): FrameSink {
  let corked = false;
  return {
    write(frame) {
      if (!socket.writable) return;
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      socket.write(frame);
    },
    get bufferedBytes() {
      return socket.writableLength;
    },
    end() {
      socket.end();
    },
    destroy() {
      socket.destroy();
    },
  };
}

/** The peer went away: EOF-like errors Go ttrpc closes on without logging. */
export function isPeerGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}
