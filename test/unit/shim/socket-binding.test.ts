import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bindSocket, type BoundSocket } from '../../../src/shim/socket-binding.js';

let dir: string;
const toClose: net.Server[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tss-bind-'));
});
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

async function bound(path: string, replaceStale = true): Promise<BoundSocket> {
  const b = await bindSocket(path, { replaceStale });
  if (b.kind !== 'bound') throw new Error('expected to bind');
  toClose.push(b.listener);
  return b;
}

describe('bindSocket', () => {
  it('binds a free path, private to its owner', async () => {
    const path = join(dir, 's');
    const b = await bound(path);
    expect(b.listener.listening).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('answers "served elsewhere" when a daemon accepts on the path, and leaves its socket alone', async () => {
    const path = join(dir, 's');
    await bound(path);
    expect(await bindSocket(path, { replaceStale: true })).toEqual({ kind: 'served-elsewhere', path });
    expect(statSync(path).isSocket()).toBe(true);
  });

  it("takes over a dead daemon's socket file", async () => {
    const path = join(dir, 's');
    // A socket file nobody listens on: bound, then the listener's fd closed without unlinking.
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(path, r));
    (dead as unknown as { _handle: { close(): void } })._handle.close();
    const b = await bound(path);
    expect(b.kind).toBe('bound');
  });

  it('without replaceStale a taken path is an error', async () => {
    const path = join(dir, 's');
    writeFileSync(path, '');
    await expect(bindSocket(path, { replaceStale: false })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('holds connections accepted before the server is wired, with their bytes, until handOver()', async () => {
    const path = join(dir, 's');
    const b = await bound(path);
    const client = net.connect(path);
    await new Promise((r) => client.once('connect', r));
    client.write('early bytes');
    await new Promise((r) => setTimeout(r, 50));
    const [socket, ...rest] = b.handOver();
    expect(rest).toEqual([]);
    const data = await new Promise<Buffer>((r) => socket!.once('data', r));
    expect(data.toString()).toBe('early bytes');
    client.destroy();
    socket!.destroy();
    // After the hand-over new connections are no longer held.
    const late = net.connect(path);
    await new Promise((r) => late.once('connect', r));
    await new Promise((r) => setTimeout(r, 50));
    expect(b.handOver()).toEqual([]);
    late.destroy();
  });
});
