import { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { native } from './native.js';

/**
 * Receives the one fd a peer sends with SCM_RIGHTS on a connected unix socket: the pty
 * master that `runc create/exec --console-socket` passes, with the device name runc sends
 * as data. Waits on the event loop, not a thread. The fd arrives close-on-exec.
 *
 * The socket must not have been read by Node: accept it with `pauseOnConnect: true`, or the
 * kernel discards the fd. Keep the socket open until the promise settles. A peer that closes
 * without sending an fd rejects with code 'ENOMSG'.
 */
export function recvFd(socketFd: number): Promise<{ fd: number; name: string }> {
  return new Promise((resolve, reject) => {
    native.recvFd(socketFd, (err, fd, name) => (err ? reject(err) : resolve({ fd, name })));
  });
}

/** Sets a terminal's window size (TIOCSWINSZ), e.g. on the pty master for ResizePty. */
export function setWinsize(fd: number, rows: number, cols: number): void {
  native.setWinsize(fd, rows, cols);
}

interface PipeHandle {
  open(fd: number): number;
}
interface PipeWrapBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

/**
 * A non-blocking duplex stream over a pty master; it owns (and closes) the fd.
 *
 * Not tty.ReadStream: libuv cannot reopen a pty master, so it leaves the fd blocking and a
 * write to a container that does not read its terminal freezes the whole event loop. Not
 * `new net.Socket({ fd })` either: it refuses fds that are not pipes or sockets. A libuv pipe
 * handle opened on the fd works (uv_pipe_open does not check the fd type and makes it
 * non-blocking); Node exposes that handle only through the deprecated process.binding,
 * which the tests pin.
 *
 * When the last slave fd closes (the container process exited) reads fail with EIO; that is
 * the terminal's end of file, so it ends the stream instead of destroying it with an error.
 */
export function openPtyStream(masterFd: number): Socket {
  const { Pipe, constants } = (process as unknown as { binding(name: string): PipeWrapBinding }).binding('pipe_wrap');
  const handle = new Pipe(constants.SOCKET);
  const rc = handle.open(masterFd);
  if (rc !== 0) throw uvError(rc, 'uv_pipe_open');
  const socket = new Socket({ handle, readable: true, writable: true } as unknown as ConstructorParameters<typeof Socket>[0]);
  const destroy = socket.destroy;
  let hungUp = false;
  socket.destroy = function (this: Socket, error?: Error) {
    const e = error as NodeJS.ErrnoException | undefined;
    if (!hungUp && e?.code === 'EIO' && e.syscall === 'read') {
      hungUp = true;
      this.push(null);
      return this;
    }
    return destroy.call(this, error);
  };
  return socket;
}

function uvError(rc: number, syscall: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(rc);
  return Object.assign(new Error(`${code}: ${syscall} failed`), { code, errno: rc, syscall });
}
