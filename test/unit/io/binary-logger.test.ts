import { chmodSync, closeSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { BinaryLogger } from '../../../src/io/binary-logger.js';

const logger = pino({ level: 'silent' });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-binlog-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function program(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('BinaryLogger', () => {
  it('starts the program in the bundle with the container identity, and hands it stdout on fd 3 and stderr on fd 4', async () => {
    const path = program('copy', [
      'echo "$CONTAINER_ID $CONTAINER_NAMESPACE $*" > identity',
      'printf R >&5; exec 5>&-',
      'cat <&3 > stdout & cat <&4 > stderr & wait',
    ].join('\n'));
    const bl = await BinaryLogger.start(path, ['--flag'], { id: 'exec1', namespace: 'ns1', bundle: dir }, logger);
    writeSync(bl.stdoutWriteFd, 'to stdout');
    writeSync(bl.stderrWriteFd, 'to stderr');
    closeSync(bl.stdoutWriteFd);
    closeSync(bl.stderrWriteFd);
    await bl.exited;
    expect(readFileSync(join(dir, 'identity'), 'utf8')).toBe('exec1 ns1 --flag\n');
    expect(readFileSync(join(dir, 'stdout'), 'utf8')).toBe('to stdout');
    expect(readFileSync(join(dir, 'stderr'), 'utf8')).toBe('to stderr');
    bl.close();
  });

  it('resolves only once the program reported ready', async () => {
    const path = program('slow-ready', 'while [ ! -e go ]; do sleep 0.05; done; : > was-ready; printf R >&5; exec sleep 600');
    let started = false;
    const starting = BinaryLogger.start(path, [], { id: 'c', namespace: 'ns', bundle: dir }, logger).then((bl) => {
      started = true;
      return bl;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(started).toBe(false);
    writeFileSync(join(dir, 'go'), '');
    const bl = await starting;
    expect(existsSync(join(dir, 'was-ready'))).toBe(true);
    bl.close();
    await bl.exited;
    closeSync(bl.stdoutWriteFd);
    closeSync(bl.stderrWriteFd);
  });

  it('counts output the program has not read, nothing once it is stopped', async () => {
    const path = program('idle', 'printf R >&5; exec 5>&-; exec sleep 600');
    const bl = await BinaryLogger.start(path, [], { id: 'c', namespace: 'ns', bundle: dir }, logger);
    try {
      writeSync(bl.stdoutWriteFd, Buffer.alloc(100, 1));
      writeSync(bl.stderrWriteFd, Buffer.alloc(20, 2));
      expect(bl.unread()).toBe(120);
      bl.close();
      await bl.exited;
      expect(bl.unread()).toBe(0);
    } finally {
      bl.close();
      closeSync(bl.stdoutWriteFd);
      closeSync(bl.stderrWriteFd);
    }
  });

  it('fails with Unknown, naming the program, when it cannot be started', async () => {
    const missing = join(dir, 'no-such-logger');
    await expect(BinaryLogger.start(missing, [], { id: 'c', namespace: 'ns', bundle: dir }, logger)).rejects.toMatchObject({
      code: Code.Unknown,
      message: expect.stringMatching(new RegExp(`^failed to start logging program ${missing}: .*ENOENT`)),
    });
  });
});
