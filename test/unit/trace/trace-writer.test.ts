import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceWriter } from '../../../src/trace/trace-writer.js';

describe('TraceWriter', () => {
  it('writes one JSON line per record, stamped with the time, into a private file in a new directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-trace-'));
    try {
      const w = new TraceWriter(join(dir, 'sub', 't.jsonl'));
      w.write({ kind: 'event', topic: '/tasks/start', id: 'c', event: { pid: 3 } });
      w.write({ kind: 'hook', hook: 'afterStart', id: 'c', ms: 1 });
      await w.close();
      const lines = readFileSync(join(dir, 'sub', 't.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.kind)).toEqual(['event', 'hook']);
      expect(lines[0]).toMatchObject({ topic: '/tasks/start', id: 'c', event: { pid: 3 } });
      expect(typeof lines[0].t).toBe('number');
      expect(statSync(join(dir, 'sub', 't.jsonl')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('appends to an existing trace file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-trace-'));
    try {
      const path = join(dir, 't.jsonl');
      for (const hook of ['first', 'second']) {
        const w = new TraceWriter(path);
        w.write({ kind: 'hook', hook, ms: 0 });
        await w.close();
      }
      expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).hook)).toEqual(['first', 'second']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
