import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
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
  // A binary:// logger may still be writing its records here while the test's io closes it.
  onTestFinished(() => rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 }));
  return dir;
}

function ctx(bundle: string, id = 'c1'): IOContext {
  return { id, namespace: 'ns1', bundle, logger };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what}: not reached in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
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
    expect((await io.delivered()).delivered).toBe(true);
    await until(() => existsSync(join(dir, 'done')), 'the logger ends');
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
    expect((await io.delivered()).delivered).toBe(true);
    await reader.ended;
    expect(reader.text()).toMatch(/^\/dev\/pts\/\d+\r\n50 132\r\n$/);
  });

  it('sends the terminal to a binary:// logger\'s fd 3; its fd 4 stays empty', async () => {
    const dir = tempDir();
    const { io, bundle, exit } = await runTerminal(binaryUri(dir), ['sh', '-c', 'echo out; echo err >&2']);
    await bundle.runc('start', bundle.id);
    expect((await exit).status).toBe(0);
    io.processExited();
    expect((await io.delivered()).delivered).toBe(true);
    await until(() => existsSync(join(dir, 'done')), 'the logger ends');
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
    expect((await io.delivered()).delivered).toBe(true);
    await reader.ended;
    await bundle.runc('kill', bundle.id, 'KILL').catch(() => undefined);
    await exit;
  });
});

describe('ProcessIO.delivered', () => {
  function fifoIn(dir: string): string {
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    return fifo;
  }

  /** A process's stdout pipe, as the runtime would hand it on: we write it, then drop our child end. */
  async function processWriting(io: ProcessIO, data: Buffer, keepOpen = false): Promise<number | undefined> {
    const w = io.runtimeStdio.stdout as number;
    const held = keepOpen ? dup(w) : undefined;
    writeSync(w, data);
    await io.runtimeStarted();
    return held;
  }

  function dup(fd: number): number {
    return openSync(`/proc/self/fd/${fd}`, 'w');
  }

  it('waits until a slow FIFO reader has taken every byte', async () => {
    const fifo = fifoIn(tempDir());
    const io = await ProcessIO.open({ stdin: '', stdout: fifo, stderr: '', terminal: false }, ctx(tempDir()));
    onTestFinished(() => io.close());
    const reader = openFifoReader(fifo);
    reader.pause();
    const data = Buffer.alloc(60_000, 7);
    await processWriting(io, data);
    let got = 0;
    const slow = setInterval(() => {
      const b = reader.read(4096) as Buffer | null;
      if (b) got += b.length;
    }, 5);
    onTestFinished(() => clearInterval(slow));
    const report = await io.delivered(1000);
    expect(report).toMatchObject({ delivered: true, atRisk: 0 });
    // Taken means out of the FIFO; the reader's own buffer may still hold the last chunks.
    expect(got + reader.readableLength).toBe(data.length);
    reader.destroy();
  });

  it('gives up when nobody reads the FIFO and reports the bytes at risk', async () => {
    const fifo = fifoIn(tempDir());
    const io = await ProcessIO.open({ stdin: '', stdout: fifo, stderr: '', terminal: false }, ctx(tempDir()));
    onTestFinished(() => io.close());
    await processWriting(io, Buffer.alloc(30_000, 1));
    expect(await io.delivered(100)).toMatchObject({ delivered: false, atRisk: 30_000 });
    // Asked again (at Delete) with nothing moved since: no second wait.
    expect(await io.delivered(60_000)).toMatchObject({ delivered: false, atRisk: 30_000, waitedMs: 0 });
  });

  it('counts an empty pipe that a background child still holds open as delivered', async () => {
    const fifo = fifoIn(tempDir());
    const io = await ProcessIO.open({ stdin: '', stdout: fifo, stderr: '', terminal: false }, ctx(tempDir()));
    onTestFinished(() => io.close());
    const reader = collect(openFifoReader(fifo));
    const held = await processWriting(io, Buffer.from('hi\n'), true);
    onTestFinished(() => closeSync(held!));
    expect(await io.delivered(5000)).toMatchObject({ delivered: true, atRisk: 0 });
    expect(reader.text()).toBe('hi\n');
  });

  it('waits for file:// writes to be done', async () => {
    const log = join(tempDir(), 'sub', 'out.log');
    const io = await ProcessIO.open({ stdin: '', stdout: `file://${log}`, stderr: `file://${log}`, terminal: false }, ctx(tempDir()));
    onTestFinished(() => io.close());
    await processWriting(io, Buffer.alloc(60_000, 3));
    expect(await io.delivered(2000)).toMatchObject({ delivered: true });
    expect(readFileSync(log).length).toBe(60_000);
  });

  it('waits until a binary:// logger has read what the process wrote', async () => {
    const dir = tempDir();
    const uri = binaryUri(dir);
    const io = await ProcessIO.open({ stdin: '', stdout: uri, stderr: uri, terminal: false }, ctx(tempDir()));
    onTestFinished(() => io.close());
    writeSync(io.runtimeStdio.stdout as number, Buffer.alloc(50_000, 2));
    await io.runtimeStarted();
    expect(await io.delivered(5000)).toMatchObject({ delivered: true, atRisk: 0 });
    await until(() => existsSync(join(dir, 'done')), 'the logger ends');
    expect(readFileSync(join(dir, 'stdout')).length).toBe(50_000);
  });
});

describe.runIf(needsRoot())('ProcessIO with an io owner (io_uid/io_gid of the task options)', () => {
  it('hands the process pipes owned by that user and group, both ends', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.log');
    const io = await ProcessIO.open(
      { stdin: '', stdout: `file://${out}`, stderr: `file://${out}`, terminal: false },
      { ...ctx(dir), ioOwner: { uid: 1234, gid: 5678 } },
    );
    onTestFinished(() => io.close());
    for (const fd of [io.runtimeStdio.stdout, io.runtimeStdio.stderr]) {
      expect(typeof fd).toBe('number');
      const st = fstatSync(fd as number);
      expect(st.isFIFO()).toBe(true);
      expect([st.uid, st.gid]).toEqual([1234, 5678]);
    }
  });

  it('leaves the pipes root-owned without one, as the reference shim', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.log');
    const io = await ProcessIO.open({ stdin: '', stdout: `file://${out}`, stderr: '', terminal: false }, ctx(dir));
    onTestFinished(() => io.close());
    const st = fstatSync(io.runtimeStdio.stdout as number);
    expect([st.uid, st.gid]).toEqual([0, 0]);
  });
});
