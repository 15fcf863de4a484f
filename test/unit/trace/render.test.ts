import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTrace, renderTraceFile } from '../../../src/trace/render.js';

describe('renderTrace', () => {
  it('renders runtime runs and events beneath the call they happened in, in start order', () => {
    const text = renderTrace([
      { t: 1100, kind: 'rpc', method: 'Create', id: 'c', code: 0, ms: 100 },
      { t: 1090, kind: 'runtime', command: 'create', id: 'c', argv: ['runc', 'create', 'c'], exitCode: 0, ms: 80 },
      { t: 1095, kind: 'event', topic: '/tasks/create', id: 'c', event: { pid: 7 } },
      { t: 1200, kind: 'rpc', method: 'Start', id: 'c', code: 14, message: 'no', ms: 5 },
      { t: 1300, kind: 'rpc', method: 'State', id: 'other', code: 0, ms: 1 },
    ], 'c');
    expect(text).toBe([
      '     +0.0 ms  rpc   Create c → OK (100.0 ms)',
      '    +10.0 ms    exec  create c: runc create c → exit 0 (80.0 ms)',
      '    +95.0 ms    event /tasks/create c (pid 7)',
      '   +195.0 ms  rpc   Start c → Unavailable: no (5.0 ms)',
      '',
    ].join('\n'));
  });

  it('keeps the shim start and records without an id when filtering by id', () => {
    const text = renderTrace([
      { t: 0, kind: 'start', pid: 9, namespace: 'default', id: 'first', node: 'v24' },
      { t: 5, kind: 'fault', target: 'runtime.start', action: 'fail', detail: 'injected failure' },
      { t: 6, kind: 'hook', hook: 'afterStart', id: 'other', ms: 1 },
    ], 'c');
    expect(text).toBe([
      '     +0.0 ms  shim  pid 9 namespace default (v24)',
      '     +5.0 ms  fault runtime.start: injected failure',
      '',
    ].join('\n'));
  });

  it('describes killed runtimes, signals, injected runs, stderr, exec ids and failed hooks', () => {
    const text = renderTrace([
      { t: 10, kind: 'runtime', command: 'kill', id: 'c', execId: 'e1', argv: ['runc', 'kill'], timedOut: true, ms: 10 },
      { t: 20, kind: 'runtime', command: 'start', id: 'c', argv: ['runc', 'start'], signal: 'SIGKILL', injected: true, stderrTail: 'boom', ms: 0 },
      { t: 30, kind: 'hook', hook: 'beforeCreate', id: 'c', ms: 2, error: 'denied' },
      { t: 40, kind: 'event', topic: '/tasks/exit', id: 'c', event: { pid: 3, exitStatus: 0 } },
    ]);
    expect(text.split('\n')).toEqual([
      '     +0.0 ms  exec  kill c/e1: runc kill → killed at deadline (10.0 ms)',
      '    +20.0 ms  exec  start c: runc start → signal SIGKILL (0.0 ms) [injected] stderr: "boom"',
      '    +28.0 ms  hook  beforeCreate c (2.0 ms) failed: denied',
      '    +40.0 ms  event /tasks/exit c (pid 3, status 0)',
      '',
    ]);
  });

  it('says so when no record is left', () => {
    expect(renderTrace([{ t: 1, kind: 'rpc', method: 'State', id: 'x', code: 0, ms: 0 }], 'c')).toBe('(no records)\n');
  });
});

describe('renderTraceFile', () => {
  it('reads a JSON-lines file and skips a line cut short by a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-render-'));
    try {
      const path = join(dir, 't.jsonl');
      writeFileSync(path, [
        JSON.stringify({ t: 100, kind: 'rpc', method: 'Kill', id: 'c', code: 5, message: 'gone', ms: 3 }),
        '',
        '{"t":200,"kind":"ev',
      ].join('\n'));
      expect(await renderTraceFile(path)).toBe('     +0.0 ms  rpc   Kill c → NotFound: gone (3.0 ms)\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
