import { describe, expect, it } from 'vitest';
import { lastErrorMessage } from '../../../src/runtime/runtime-log.js';

describe('reading the runtime log', () => {
  it('takes the last error of one-object-per-line logs (runc, crun), ignoring other levels', () => {
    const log = [
      '{"level":"error","msg":"first","time":"t"}',
      '{"level":"info","msg":"noise","time":"t"}',
      '{"msg":"second {with braces} and \\"quotes\\"","level":"error","time":"t"}',
      '{"level":"warning","msg":"later warning","time":"t"}',
      '',
    ].join('\n');
    expect(lastErrorMessage(log)).toBe('second {with braces} and "quotes"');
  });

  it('reads runsc logs, whose entries have no newline between them', () => {
    const log = '{"msg":"a","level":"error","time":"t"}{"msg":"b","level":"error","time":"t"}{"msg":"c","level":"debug","time":"t"}';
    expect(lastErrorMessage(log)).toBe('b');
  });

  it('an entry torn by a killed runtime does not hide the entries after it', () => {
    const log = '{"level":"error","msg":"torn in the mid\n{"level":"error","msg":"whole","time":"t"}\n';
    expect(lastErrorMessage(log)).toBe('whole');
  });

  it('skips foreign text that looks like an object and keeps the entries around it', () => {
    const log = '{"level":"error","msg":"before"}{not json}{"level":"error","msg":"after"}{"level":"error","msg":42}';
    expect(lastErrorMessage(log)).toBe('after');
  });

  it('no error entry at all gives nothing', () => {
    expect(lastErrorMessage('')).toBeUndefined();
    expect(lastErrorMessage('plain text, not json\n{"level":"info","msg":"x"}')).toBeUndefined();
  });
});
