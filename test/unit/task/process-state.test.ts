import { describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { checkExecOp, checkInitOp, type InitOp, type ProcessStatus } from '../../../src/task/process-state.js';

function outcome(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    const e = err as { code: Code; message: string };
    return `${e.code}: ${e.message}`;
  }
}

describe('init process state machine (spec §3.4)', () => {
  const table: Array<[ProcessStatus, InitOp, string]> = [
    ['created', 'start', 'ok'],
    ['created', 'pause', '2: cannot pause task in created state'],
    ['created', 'delete', 'ok'],
    ['created', 'exec', 'ok'],
    ['running', 'start', '2: cannot start a running process'],
    ['running', 'delete', '2: cannot delete a running process'],
    ['running', 'resume', '2: cannot resume a running process'],
    ['paused', 'delete', '2: cannot delete a paused process'],
    ['paused', 'pause', '2: cannot pause a paused container'],
    ['paused', 'exec', '2: cannot exec in a paused state'],
    ['paused', 'resume', 'ok'],
    ['stopped', 'start', '2: cannot start a stopped process'],
    ['stopped', 'exec', '2: cannot exec in a stopped state'],
    ['stopped', 'update', '2: cannot update a stopped container'],
    ['stopped', 'checkpoint', '2: cannot checkpoint a stopped container'],
    ['stopped', 'kill', 'ok'],
    ['stopped', 'delete', 'ok'],
    ['deleted', 'kill', '5: cannot kill a deleted process: not found'],
  ];
  it.each(table)('%s + %s → %s', (status, op, expected) => {
    expect(outcome(() => checkInitOp(status, op))).toBe(expected);
  });
});

describe('exec process state machine', () => {
  it('kill before start is a failed precondition; after exit it is not found', () => {
    expect(outcome(() => checkExecOp('created', 'kill'))).toBe('9: process not created: failed precondition');
    expect(outcome(() => checkExecOp('stopped', 'kill'))).toBe('5: process already finished: not found');
    expect(outcome(() => checkExecOp('running', 'delete'))).toBe('2: cannot delete a running process');
    expect(outcome(() => checkExecOp('stopped', 'delete'))).toBe('ok');
  });
});
