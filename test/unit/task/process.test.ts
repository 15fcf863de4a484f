import { describe, expect, it } from 'vitest';
import { ProcessRecord } from '../../../src/task/process.js';
import { EXEC_TRANSITIONS, INIT_TRANSITIONS } from '../../../src/task/process-state.js';

const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };

describe('ProcessRecord', () => {
  it('moves only along its table and names the refused move', () => {
    const p = new ProcessRecord('c1', stdio, INIT_TRANSITIONS);
    p.transition('starting');
    expect(() => p.transition('paused')).toThrow('illegal transition of process c1 from starting to paused');
    expect(p.status).toBe('starting');
  });

  it('an exec has no pause states', () => {
    const p = new ProcessRecord('e1', stdio, EXEC_TRANSITIONS);
    p.transition('starting');
    p.transition('running');
    expect(() => p.transition('pausing')).toThrow(/from running to pausing/);
  });

  it('markExited stops an exiting process and resolves Wait with the exit', async () => {
    const p = new ProcessRecord('c1', stdio, INIT_TRANSITIONS);
    p.transition('exiting');
    const exit = { status: 137, at: new Date(0) };
    p.markExited(exit);
    expect(p.status).toBe('stopped');
    await expect(p.wait()).resolves.toBe(exit);
    expect(() => p.markExited(exit)).toThrow(/from stopped to stopped/);
  });
});
