import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStartOutput, runShimDelete, runShimStart, shimEnv, type ShimInvocation } from '../../../src/ctl/shim-binary.js';

let dir: string;
let invocation: ShimInvocation;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-shimbin-'));
  const binary = join(dir, 'shim');
  // A stand-in shim: records how it was run, then answers like a shim on stdout and stderr.
  writeFileSync(binary, [
    '#!/bin/sh',
    'printf "%s\\n" "$@" > args',
    'echo "$NAMESPACE $TTRPC_ADDRESS $GRPC_ADDRESS $MAX_SHIM_VERSION" > env',
    'pwd > cwd',
    'cat > stdin',
    'case "$*" in *sleep*) exec sleep 600 ;; *" start") echo "unix:///run/s.sock"; echo "warning" >&2 ;; *) printf "\\001" ;; esac',
  ].join('\n'));
  chmodSync(binary, 0o755);
  invocation = { binary, namespace: 'ns1', id: 'c1', address: '/run/c.sock', ttrpcAddress: '/run/c.sock.ttrpc', publishBinary: '/usr/bin/containerd', bundle: dir, debug: false };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (name: string) => readFileSync(join(dir, name), 'utf8');

describe('running the shim binary', () => {
  it('start passes containerd\'s flags, environment and the options on stdin, in the bundle', async () => {
    const out = await runShimStart({ ...invocation, debug: true }, Buffer.from('opts'), 60_000);
    expect(out).toMatchObject({ exitCode: 0, signal: null, output: 'unix:///run/s.sock\nwarning\n' });
    expect(out.stdout.toString()).toBe('unix:///run/s.sock\n');
    expect(read('args').split('\n').slice(0, -1)).toEqual([
      '-namespace', 'ns1', '-address', '/run/c.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'c1', '-debug', 'start',
    ]);
    expect(read('env')).toBe('ns1 /run/c.sock.ttrpc /run/c.sock 2\n');
    expect(read('cwd')).toBe(`${dir}\n`);
    expect(read('stdin')).toBe('opts');
  });

  it('delete names the bundle and sends nothing on stdin', async () => {
    const out = await runShimDelete(invocation, 60_000);
    expect(out.exitCode).toBe(0);
    expect([...out.stdout]).toEqual([1]);
    expect(read('args').split('\n').slice(0, -1)).toEqual([
      '-namespace', 'ns1', '-address', '/run/c.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'c1', '-bundle', dir, 'delete',
    ]);
    expect(read('stdin')).toBe('');
  });

  it('kills a shim that runs past the deadline', async () => {
    const out = await runShimStart({ ...invocation, id: 'sleep' }, new Uint8Array(0), 200);
    expect(out).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('shimEnv adds the addresses, namespace and MAX_SHIM_VERSION to this process\'s environment', () => {
    expect(shimEnv(invocation)).toMatchObject({ PATH: process.env.PATH, TTRPC_ADDRESS: '/run/c.sock.ttrpc', GRPC_ADDRESS: '/run/c.sock', NAMESPACE: 'ns1', MAX_SHIM_VERSION: '2' });
  });
});

describe('parseStartOutput', () => {
  it('reads a plain address as Task API v2', () => {
    expect(parseStartOutput('unix:///run/tsshim/abc.sock\n')).toEqual({ path: '/run/tsshim/abc.sock', version: 2 });
  });

  it('reads containerd 2.x JSON with its version', () => {
    expect(parseStartOutput('{"version":3,"address":"unix:///s.sock","protocol":"ttrpc"}')).toEqual({ path: '/s.sock', version: 3 });
    expect(parseStartOutput('{"address":"unix:///s.sock"}')).toEqual({ path: '/s.sock', version: 2 });
  });

  it('refuses another protocol and output without a unix:// address', () => {
    expect(() => parseStartOutput('{"version":3,"address":"unix:///s.sock","protocol":"grpc"}')).toThrow('shim speaks grpc, only ttrpc is supported');
    expect(() => parseStartOutput('panic: boom')).toThrow('shim printed no unix:// address: "panic: boom"');
    expect(() => parseStartOutput('{"version":3}')).toThrow('shim printed no unix:// address');
  });
});
