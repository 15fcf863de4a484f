import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createPipe, Reaper, type ExitInfo } from '../../../src/sys/index.js';
import { collectExits } from './exit-collector.js';
import { makeBundle, needsRoot } from './oci-bundle.js';

function readAll(fd: number): Promise<string> {
  const socket = new Socket({ fd, readable: true, writable: false });
  let out = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (out += chunk));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(out));
    socket.once('error', reject);
  });
}

// Creates the container with a real pipe as stdout/stderr, returns its output and init pid.
async function createWithPipe(bundle: Awaited<ReturnType<typeof makeBundle>>) {
  const { readFd, writeFd } = createPipe();
  try {
    await bundle.create(['ignore', writeFd, writeFd]);
  } finally {
    // Only the container may hold the write end, so that its exit is our end of file.
    closeSync(writeFd);
  }
  return { output: readAll(readFd), pid: bundle.pid() };
}

describe.skipIf(!needsRoot())('container processes under runc (needs root)', () => {
  it('delivers the exit code of a container init that exits 42', async () => {
    const bundle = await makeBundle(['sh', '-c', 'exit 42']);
    const sub = collectExits();
    try {
      const { pid } = await createWithPipe(bundle);
      const exit = sub.waitFor(pid);
      await bundle.runc('start', bundle.id);
      expect(await exit).toMatchObject({ pid, status: 42 });
    } finally {
      sub.close();
    }
  });

  it('reports a container killed with SIGKILL as 137', async () => {
    const bundle = await makeBundle(['sleep', '100']);
    const sub = collectExits();
    try {
      const { pid } = await createWithPipe(bundle);
      const exit = sub.waitFor(pid);
      await bundle.runc('start', bundle.id);
      await bundle.runc('kill', bundle.id, 'KILL');
      expect(await exit).toMatchObject({ pid, status: 137 });
    } finally {
      sub.close();
    }
  });

  it('keeps an exit reaped before the pid was known for the subscription opened before create', async () => {
    const bundle = await makeBundle(['sh', '-c', 'exit 5']);
    const reaper = Reaper.get();
    const sub = collectExits();
    const reaped: ExitInfo[] = [];
    const onExit = (e: ExitInfo) => reaped.push(e);
    reaper.on('exit', onExit);
    try {
      const { readFd, writeFd } = createPipe();
      await bundle.create(['ignore', writeFd, writeFd]);
      closeSync(writeFd);
      await bundle.runc('start', bundle.id);
      // Wait until the exit has been reaped and published, before anyone asked for this pid.
      await readAll(readFd);
      const pid = bundle.pid();
      while (!reaped.some((e) => e.pid === pid)) await once(reaper, 'exit');
      expect(await sub.waitFor(pid)).toMatchObject({ pid, status: 5 });
    } finally {
      reaper.off('exit', onExit);
      sub.close();
    }
  });

  it('lets a container write to /dev/stdout and /dev/stderr of a createPipe() pipe, read through net.Socket', async () => {
    const bundle = await makeBundle(['sh', '-c', 'echo hi > /dev/stdout && echo there > /dev/stderr']);
    const sub = collectExits();
    try {
      const { pid, output } = await createWithPipe(bundle);
      const exit = sub.waitFor(pid);
      await bundle.runc('start', bundle.id);
      expect(await output).toBe('hi\nthere\n');
      expect((await exit).status).toBe(0);
    } finally {
      sub.close();
    }
  });
});
