import { describe, expect, it } from 'vitest';
import { runProcess } from '../../../src/runtime/run-process.js';

const env = { PATH: process.env.PATH };

describe('runProcess', () => {
  it('gives the exit code with stdout and stderr, and writes the input to stdin', async () => {
    const result = await runProcess('/bin/sh', ['-c', 'read line; echo "out:$line"; echo err >&2; exit 3'], {
      env, stdio: ['pipe', 'pipe', 'pipe'], input: 'hello\n', timeoutMs: 60_000,
    });
    expect(result).toEqual({ kind: 'exited', exitCode: 3, signal: null, stdout: 'out:hello\n', stderr: 'err\n' });
  });

  it('runs in the given working directory', async () => {
    const result = await runProcess('/bin/pwd', [], { cwd: '/', env, stdio: ['ignore', 'pipe', 'ignore'], timeoutMs: 60_000 });
    expect(result).toMatchObject({ kind: 'exited', exitCode: 0, stdout: '/\n' });
  });

  it('reports the signal that ended the process', async () => {
    const result = await runProcess('/bin/sh', ['-c', 'kill -TERM $$'], { env, stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 60_000 });
    expect(result).toMatchObject({ kind: 'exited', exitCode: null, signal: 'SIGTERM' });
  });

  it('kills a process still running at the deadline and settles as timed out', async () => {
    const result = await runProcess('/bin/sleep', ['600'], { env, stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 200 });
    expect(result.kind).toBe('timed-out');
    const pid = (result as { pid: number }).pid;
    expect(pid).toBeGreaterThan(0);
    // SIGKILL was sent; the process is gone once reaped.
    await expect.poll(() => { try { process.kill(pid, 0); return true; } catch { return false; } }, { timeout: 30_000 }).toBe(false);
  });

  it('rejects when the program cannot be started', async () => {
    await expect(runProcess('/nonexistent/runtime', [], { env, stdio: ['ignore', 'pipe', 'pipe'], timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('does not fail when the program exits without reading its input', async () => {
    const result = await runProcess('/bin/true', [], { env, stdio: ['pipe', 'pipe', 'pipe'], input: 'x'.repeat(1 << 20), timeoutMs: 60_000 });
    expect(result).toMatchObject({ kind: 'exited', exitCode: 0 });
  });
});
