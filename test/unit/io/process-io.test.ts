import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openFifoReader } from '../../../src/io/fifo.js';
import { ProcessIO, type IOContext } from '../../../src/io/process-io.js';
import { collectExits } from '../sys/exit-collector.js';
import { makeBundle, needsRoot } from '../sys/oci-bundle.js';

const LOGGER = resolve(__dirname, '../../fixtures/loggers/record-logger.sh');
const logger = pino({ level: 'silent' });

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsshim-io-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function ctx(bundle: string, id = 'c1'): IOContext {
  return { id, namespace: 'ns1', bundle, logger };
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function collect(stream: Socket): { text: () => string; ended: Promise<void> } {
  let out = '';
  stream.setEncoding('latin1');
  stream.on('data', (chunk: string) => (out += chunk));
  const ended = new Promise<void>((resolve) => stream.once('end', resolve));
  return { text: () => out, ended };
}

const binaryUri = (dir: string) => `binary://${LOGGER}?dir=${encodeURIComponent(dir)}&mode=unit`;

describe('ProcessIO with a binary:// logger', () => {
  it('starts the logger (argv, bare environment, bundle as cwd) and resolves only once it is ready', async () => {
    const dir = tempDir();
    const bundle = tempDir();
    const uri = binaryUri(dir);
    const io = await ProcessIO.open({ stdin: '', stdout: uri, stderr: uri, terminal: false }, ctx(bundle, 'exec-7'));
    onTestFinished(() => io.close());
    expect(existsSync(join(dir, 'ready'))).toBe(true);
    expect(readFileSync(join(dir, 'argv'), 'utf8')).toBe(`${LOGGER}\ndir\n${dir}\nmode\nunit\n`);
    expect(readFileSync(join(dir, 'env'), 'utf8')).toBe('CONTAINER_ID=exec-7\nCONTAINER_NAMESPACE=ns1\n');
    expect(readFileSync(join(dir, 'cwd'), 'utf8').trim()).toBe(bundle);
    expect(io.consoleSocket).toBeUndefined();
    expect(io.runtimeStdio.stdin).toBe('ignore');
  });

  it('hands the process the logger\'s own pipes: output reaches fds 3 and 4, and the logger ends with the process\'s last writer', async () => {
    const dir = tempDir();
    const uri = binaryUri(dir);
    const io = await ProcessIO.open({ stdin: '', stdout: uri, stderr: uri, terminal: false }, ctx(tempDir()));
    onTestFinished(() => io.close());
    const { stdout, stderr } = io.runtimeStdio;
    expect(typeof stdout).toBe('number');
    writeSync(stdout as number, 'to stdout\n');
    writeSync(stderr as number, 'to stderr\n');
    await io.runtimeStarted();
    expect(await io.drained(10_000)).toBe(true);
    expect(readFileSync(join(dir, 'stdout'), 'utf8')).toBe('to stdout\n');
    expect(readFileSync(join(dir, 'stderr'), 'utf8')).toBe('to stderr\n');
    expect(existsSync(join(dir, 'done'))).toBe(true);
  });

  it('fails with the logger path when the program cannot be started, and keeps no fd', async () => {
    const before = openFds();
    const uri = 'binary:///no/such/logger?x=1';
    await expect(ProcessIO.open({ stdin: '', stdout: uri, stderr: uri, terminal: false }, ctx(tempDir()))).rejects.toThrow(/\/no\/such\/logger/);
    expect(openFds()).toBe(before);
  });

  it('refuses a logger named only for stderr', async () => {
    await expect(
      ProcessIO.open({ stdin: '', stdout: '', stderr: binaryUri(tempDir()), terminal: false }, ctx(tempDir())),
    ).rejects.toThrow(/must be given as stdout/);
  });
});

describe.skipIf(!needsRoot())('ProcessIO with a terminal (needs root)', () => {
  async function runTerminal(stdout: string, args: string[]) {
    const bundle = await makeBundle(args, { terminal: true });
    const io = await ProcessIO.open({ stdin: '', stdout, stderr: '', terminal: true }, ctx(bundle.dir));
    onTestFinished(() => io.close());
    expect(io.consoleSocket).toMatch(/\/pty[^/]+\/pty\.sock$/);
    const socketDir = join(io.consoleSocket!, '..');
    // A size that comes before the terminal is applied when it arrives.
    io.resize(132, 50);
    const sub = collectExits();
    onTestFinished(() => sub.close());
    await bundle.create('ignore', '--console-socket', io.consoleSocket!);
    await io.runtimeStarted();
    expect(existsSync(socketDir)).toBe(false);
    const exit = sub.waitFor(bundle.pid());
    return { io, bundle, exit };
  }

  it('copies the terminal to the stdout FIFO with the size asked before it existed', async () => {
    const fifo = join(tempDir(), 'stdout');
    execFileSync('mkfifo', [fifo]);
    const { io, bundle, exit } = await runTerminal(fifo, ['sh', '-c', 'tty; stty size']);
    // Opened after the shim's own handle, so the reader does not see end of file at once.
    const reader = collect(openFifoReader(fifo));
    await bundle.runc('start', bundle.id);
    expect((await exit).status).toBe(0);
    io.processExited();
    expect(await io.drained(10_000)).toBe(true);
    await reader.ended;
    expect(reader.text()).toMatch(/^\/dev\/pts\/\d+\r\n50 132\r\n$/);
  });

  it('sends the terminal to a binary:// logger\'s fd 3; its fd 4 stays empty', async () => {
    const dir = tempDir();
    const { io, bundle, exit } = await runTerminal(binaryUri(dir), ['sh', '-c', 'echo out; echo err >&2']);
    await bundle.runc('start', bundle.id);
    expect((await exit).status).toBe(0);
    io.processExited();
    expect(await io.drained(10_000)).toBe(true);
    expect(readFileSync(join(dir, 'stdout'), 'utf8')).toBe('out\r\nerr\r\n');
    expect(readFileSync(join(dir, 'stderr'), 'utf8')).toBe('');
  });

  it('closes a terminal that stays open and silent after the exit was reported', async () => {
    // Stands in for a process whose leftovers keep the pty's slave open after it exited: the
    // exit is reported while the process still holds it.
    const fifo = join(tempDir(), 'stdout');
    execFileSync('mkfifo', [fifo]);
    const { io, bundle, exit } = await runTerminal(fifo, ['sh', '-c', 'echo started; exec sleep 1000']);
    const reader = collect(openFifoReader(fifo));
    await bundle.runc('start', bundle.id);
    while (!reader.text().includes('started')) await new Promise((r) => setTimeout(r, 10));
    io.processExited();
    expect(await io.drained(10_000)).toBe(true);
    await reader.ended;
    await bundle.runc('kill', bundle.id, 'KILL').catch(() => undefined);
    await exit;
  });
});
