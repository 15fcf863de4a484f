import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, DAEMON_LOG_ENV } from '../../../src/shim/logger.js';

let bundle: string;
beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tsshim-logger-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env[DAEMON_LOG_ENV];
  rmSync(bundle, { recursive: true, force: true });
});

/** Closes the FIFO socket a logger writes to. */
function closeDestination(logger: Logger): void {
  (logger as unknown as Record<symbol, { destroy(): void }>)[pino.symbols.streamSym].destroy();
}

/** What arrived in the FIFO so far, as parsed JSON lines. */
function readLines(fd: number): Record<string, unknown>[] {
  const buf = Buffer.alloc(65536);
  let n = 0;
  try {
    n = readSync(fd, buf);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
  }
  return buf.toString('utf8', 0, n).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('createLogger', () => {
  it('writes JSON lines naming the runtime, namespace and shim pid to the bundle\'s log FIFO', async () => {
    execFileSync('mkfifo', [join(bundle, 'log')]);
    const reader = openSync(join(bundle, 'log'), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const logger = createLogger(bundle, { debug: false, namespace: 'ns1', id: 'c1' });
      logger.debug('not at info level');
      logger.info({ extra: 1 }, 'hello');
      const got: Record<string, unknown>[] = [];
      await expect.poll(() => got.push(...readLines(reader)) && got, { timeout: 30_000 }).toHaveLength(1);
      expect(got[0]).toMatchObject({ level: 30, msg: 'hello', extra: 1, runtime: 'io.containerd.tsshim.v2', namespace: 'ns1', shim_pid: process.pid });
      expect(typeof got[0]!.time).toBe('string');
      closeDestination(logger);
    } finally {
      closeSync(reader);
    }
  });

  it('logs debug lines with debug on', async () => {
    execFileSync('mkfifo', [join(bundle, 'log')]);
    const reader = openSync(join(bundle, 'log'), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const logger = createLogger(bundle, { debug: true, namespace: 'ns1', id: 'c1' });
      logger.debug('details');
      const got: Record<string, unknown>[] = [];
      await expect.poll(() => got.push(...readLines(reader)) && got, { timeout: 30_000 }).toHaveLength(1);
      expect(got[0]).toMatchObject({ level: 20, msg: 'details' });
      closeDestination(logger);
    } finally {
      closeSync(reader);
    }
  });

  it('logs to stderr without a log FIFO, and with a daemon log, which it takes out of the environment', async () => {
    execFileSync('mkfifo', [join(bundle, 'log')]);
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    process.env[DAEMON_LOG_ENV] = '/var/log/tsshim-daemon.log';
    createLogger(bundle, { debug: false, namespace: 'ns1', id: 'c1' }).info('to the daemon log');
    expect(process.env[DAEMON_LOG_ENV]).toBeUndefined();
    createLogger(join(bundle, 'no-such-dir'), { debug: false, namespace: 'ns2', id: 'c2' }).info('hand-run');
    await expect.poll(() => written.length, { timeout: 30_000 }).toBe(2);
    expect(written.map((w) => JSON.parse(w).msg)).toEqual(['to the daemon log', 'hand-run']);
  });
});
