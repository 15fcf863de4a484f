import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTrace } from '../../../src/trace/render.js';
import { summarize } from '../../../src/trace/summarize.js';
import { TraceWriter } from '../../../src/trace/trace-writer.js';

describe('trace', () => {
  it('elides large strings and byte fields and shows JSON payloads as objects', () => {
    const out = summarize({ big: 'x'.repeat(600), blob: new Uint8Array(200), small: new Uint8Array([1, 2]), spec: Buffer.from('{"args":["sh"]}') }) as Record<string, unknown>;
    expect(out.big).toMatch(/^x{512}…<88 more chars>$/);
    expect(out.blob).toBe('<200 bytes>');
    expect(out.small).toBe('AQI=');
    expect(out.spec).toEqual({ args: ['sh'] });
  });

  it('writes one JSON line per record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trace-'));
    try {
      const w = new TraceWriter(join(dir, 'sub', 't.jsonl'));
      w.write({ kind: 'event', topic: '/tasks/start', id: 'c', event: { pid: 3 } });
      w.write({ kind: 'hook', hook: 'afterStart', id: 'c', ms: 1 });
      await w.close();
      const lines = readFileSync(join(dir, 'sub', 't.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.kind)).toEqual(['event', 'hook']);
      expect(typeof lines[0].t).toBe('number');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

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
});
