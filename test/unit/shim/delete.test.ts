import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import { deleteAction } from '../../../src/shim/delete.js';
import type { ShimFlags } from '../../../src/shim/flags.js';
import { writeAddressSync, writeInitExitSync, writeRuntimeFileSync } from '../../../src/task/bundle-files.js';

let bundle: string;
let stdout: Buffer[];
let stderr: string;
beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tsshim-delete-'));
  stdout = [];
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: Uint8Array, cb?: () => void) => {
    stdout.push(Buffer.from(chunk));
    cb?.();
    return true;
  }) as typeof process.stdout.write);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(bundle, { recursive: true, force: true });
});

function flags(over: Partial<ShimFlags> = {}): ShimFlags {
  return { namespace: 'ns1', id: 'c1', address: '', publishBinary: '', bundle, socket: '', debugSocket: '', debug: false, version: false, info: false, action: 'delete', rest: [], ...over };
}

const response = () => containerd.task.v2.DeleteResponse.decode(Buffer.concat(stdout));

describe('deleteAction', () => {
  it('with nothing left in the bundle reports pid uint32(-1) and status 137, as the reference shim does', async () => {
    await deleteAction(flags());
    const r = response();
    expect(r.pid).toBe(0xffffffff);
    expect(r.exitStatus).toBe(137);
    expect(stderr).toBe('');
  });

  it('reports the pid and exit status the daemon persisted before it died', async () => {
    writeFileSync(join(bundle, 'init.pid'), '4242');
    writeInitExitSync(bundle, { pid: 4242, status: 3, exitedAt: '2026-01-02T03:04:05.678Z' });
    await deleteAction(flags());
    const r = response();
    expect(r.pid).toBe(4242);
    expect(r.exitStatus).toBe(3);
    expect(new Date(Number(r.exitedAt!.seconds) * 1000 + r.exitedAt!.nanos! / 1e6).toISOString()).toBe('2026-01-02T03:04:05.678Z');
  });

  it('removes the socket file a dead daemon left, and keeps one that is still served', async () => {
    const dead = join(bundle, 'dead.sock');
    // Bound and never unlinked: what a killed daemon leaves behind.
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', dead]);
    writeAddressSync(bundle, `unix://${dead}`);
    await deleteAction(flags());
    expect(existsSync(dead)).toBe(false);

    const live = join(bundle, 'live.sock');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(live, resolve));
    try {
      writeAddressSync(bundle, `unix://${live}`);
      await deleteAction(flags());
      expect(existsSync(live)).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('has the recorded runtime force-delete the container, and tolerates one that no longer knows it', async () => {
    const runtime = join(bundle, 'fake-runc');
    writeFileSync(runtime, `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(bundle, 'runtime-args')}"\necho 'container does not exist' >&2\nexit 1\n`);
    chmodSync(runtime, 0o755);
    writeRuntimeFileSync(bundle, {
      namespace: 'ns2',
      runtime: { name: 'runc', binary: runtime, binarySource: 'test', root: join(bundle, 'root'), dialect: 'runc', flags: [], systemdCgroup: false, env: {}, options: {} },
    });
    await deleteAction(flags());
    const args = readFileSync(join(bundle, 'runtime-args'), 'utf8').trim().split('\n');
    expect(args.slice(-3)).toEqual(['delete', '--force', 'c1']);
    expect(args).toContain(join(bundle, 'root', 'ns2'));
    expect(stderr).toBe('');
    expect(response().exitStatus).toBe(137);
  });

  it('reports a runtime delete that fails for another reason on stderr, and still answers', async () => {
    const runtime = join(bundle, 'broken-runc');
    writeFileSync(runtime, `#!/bin/sh\necho 'permission denied' >&2\nexit 1\n`);
    chmodSync(runtime, 0o755);
    writeRuntimeFileSync(bundle, {
      namespace: 'ns1',
      runtime: { name: 'runc', binary: runtime, binarySource: 'test', root: join(bundle, 'root'), dialect: 'runc', flags: [], systemdCgroup: false, env: {}, options: {} },
    });
    await deleteAction(flags());
    expect(stderr).toMatch(/^runtime delete: .*permission denied/);
    expect(response().pid).toBe(0xffffffff);
  });
});
