import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPtyStream, recvFd, setWinsize } from '../../../src/sys/index.js';
import { collectExits } from './exit-collector.js';
import { makeBundle, needsRoot, type Bundle } from './oci-bundle.js';

const O_CLOEXEC = 0o2000000;

function isCloexec(fd: number): boolean {
  const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
  return (parseInt(flags, 8) & O_CLOEXEC) !== 0;
}

// The console socket the way the shim runs it: accepted paused, so that Node never reads
// the message that carries the pty master.
async function listenConsoleSocket(path: string): Promise<{ server: Server; master: Promise<{ fd: number; name: string }> }> {
  const server = createServer({ pauseOnConnect: true });
  const master = new Promise<{ fd: number; name: string }>((resolve, reject) => {
    server.once('connection', (socket: Socket) => {
      const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
      recvFd(fd)
        .then(resolve, reject)
        .finally(() => socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, master };
}

async function createWithConsole(bundle: Bundle) {
  const { server, master } = await listenConsoleSocket(join(bundle.dir, 'console.sock'));
  try {
    await bundle.create('ignore', '--console-socket', join(bundle.dir, 'console.sock'));
    return { master: await master, pid: bundle.pid() };
  } finally {
    server.close();
  }
}

function collect(stream: Socket): { text: () => string; ended: Promise<void> } {
  let out = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (out += chunk));
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  return { text: () => out, ended };
}

describe.skipIf(!needsRoot())('container terminals (needs root)', () => {
  it('receives the pty master from runc, resizes it to 50x132 and reads the output until the container exits', async () => {
    const bundle = await makeBundle(['stty', 'size'], { terminal: true });
    const sub = collectExits();
    try {
      const { master, pid } = await createWithConsole(bundle);
      expect(master.name).not.toBe('');
      expect(isCloexec(master.fd)).toBe(true);
      setWinsize(master.fd, 50, 132);
      const pty = openPtyStream(master.fd);
      const output = collect(pty);
      const exit = sub.waitFor(pid);
      await bundle.runc('start', bundle.id);
      // The container's exit shows as EIO on the master, which must end the stream, not fail it.
      await output.ended;
      expect(output.text().trim()).toBe('50 132');
      expect((await exit).status).toBe(0);
    } finally {
      sub.close();
    }
  });

  it('keeps the event loop running while 1 MiB is written into a pty nobody reads', async () => {
    const bundle = await makeBundle(['sh', '-c', 'stty raw -echo; echo ready; exec sleep 60'], { terminal: true });
    const sub = collectExits();
    let pty: Socket | undefined;
    try {
      const { master, pid } = await createWithConsole(bundle);
      pty = openPtyStream(master.fd);
      pty.on('error', () => undefined);
      const output = collect(pty);
      const exit = sub.waitFor(pid);
      await bundle.runc('start', bundle.id);
      while (!output.text().includes('ready')) await new Promise((r) => setTimeout(r, 10));

      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const chunk = Buffer.alloc(1024, 'x');
      for (let i = 0; i < 1024; i++) pty.write(chunk);
      const ticksAfterWrites = ticks;
      await new Promise((r) => setTimeout(r, 100));
      clearInterval(timer);

      // The pty filled up: the rest waits in Node's memory instead of blocking a write(2).
      expect(pty.writableLength).toBeGreaterThan(0);
      expect(ticks).toBeGreaterThan(ticksAfterWrites);

      await bundle.runc('kill', bundle.id, 'KILL');
      expect((await exit).status).toBe(137);
    } finally {
      pty?.destroy();
      sub.close();
    }
  });
});

describe('recvFd and setWinsize', () => {
  it('rejects with ENOMSG when the peer closes without sending an fd', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-recvfd-'));
    const path = join(dir, 's.sock');
    const { server, master } = await listenConsoleSocket(path);
    try {
      const client = connect(path, () => client.end());
      await expect(master).rejects.toMatchObject({ code: 'ENOMSG', syscall: 'recvmsg' });
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with the errno name as code for an fd that is not a terminal', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      expect(() => setWinsize(fd, 50, 132)).toThrow(expect.objectContaining({ code: 'ENOTTY', syscall: 'ioctl' }));
    } finally {
      closeSync(fd);
    }
  });
});
