import { describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { containerd } from '../../../src/api/gen/proto.js';
import {
  checkExecOp, checkInitOp, EXEC_TRANSITIONS, INIT_TRANSITIONS, toApiStatus, type InitOp, type ProcessStatus,
} from '../../../src/task/process-state.js';

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
    ['starting', 'start', '2: cannot start a running process'],
    ['starting', 'delete', '2: cannot delete a running process'],
    ['starting', 'kill', 'ok'],
    ['resuming', 'resume', '2: cannot resume a resuming container'],
    ['resuming', 'kill', 'ok'],
    ['exiting', 'pause', '2: cannot pause a stopped container'],
    ['exiting', 'kill', 'ok'],
    ['deleting', 'kill', '5: cannot kill a deleted process: not found'],
    ['deleting', 'exec', '2: cannot exec in a deleted state'],
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

describe('transition tables', () => {
  const statuses = Object.keys(INIT_TRANSITIONS) as ProcessStatus[];

  it('every state of either kind is reachable from created, and deleted is final', () => {
    for (const table of [INIT_TRANSITIONS, EXEC_TRANSITIONS]) {
      const seen = new Set<ProcessStatus>(['created']);
      const queue: ProcessStatus[] = ['created'];
      while (queue.length) for (const next of table[queue.shift()!]) if (!seen.has(next)) seen.add(next), queue.push(next);
      expect(seen.has('deleted')).toBe(true);
      expect(table.deleted).toEqual([]);
      if (table === INIT_TRANSITIONS) expect([...seen].sort()).toEqual([...statuses].sort());
    }
  });

  it('an exit can be observed in every state that holds a live process, but never while starting', () => {
    for (const s of ['created', 'running', 'pausing', 'paused', 'resuming'] as const) expect(INIT_TRANSITIONS[s]).toContain('exiting');
    expect(INIT_TRANSITIONS.starting).not.toContain('exiting');
  });

  it('in-flight phases report the API status of the state they leave', () => {
    const S = containerd.v1.types.Status;
    expect(toApiStatus('starting')).toBe(S.CREATED);
    expect(toApiStatus('exiting')).toBe(S.RUNNING);
    expect(toApiStatus('resuming')).toBe(S.PAUSED);
    expect(toApiStatus('deleting')).toBe(S.STOPPED);
  });
});
