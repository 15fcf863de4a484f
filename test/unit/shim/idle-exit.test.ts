import { afterEach, describe, expect, it, vi } from 'vitest';
import { idleExitMs, watchIdle } from '../../../src/shim/idle-exit.js';

describe('idle exit', () => {
  afterEach(() => vi.useRealTimers());

  it('fires once after the bound when no task ever arrives', () => {
    vi.useFakeTimers();
    const onIdle = vi.fn();
    watchIdle({ boundMs: 4_000, taskCount: () => 0, onIdle });
    vi.advanceTimersByTime(3_000);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_500);
    expect(onIdle).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(20_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('never fires while a task is held, and counts the bound again from the last one', () => {
    vi.useFakeTimers();
    let tasks = 1;
    const onIdle = vi.fn();
    watchIdle({ boundMs: 4_000, taskCount: () => tasks, onIdle });
    vi.advanceTimersByTime(60_000);
    expect(onIdle).not.toHaveBeenCalled();
    tasks = 0;
    vi.advanceTimersByTime(3_000);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('reads its bound from the environment, with a default for missing or bad values', () => {
    expect(idleExitMs({ TSSHIM_IDLE_EXIT_SECONDS: '2.5' })).toBe(2_500);
    expect(idleExitMs({})).toBe(60_000);
    expect(idleExitMs({ TSSHIM_IDLE_EXIT_SECONDS: '-1' })).toBe(60_000);
    expect(idleExitMs({ TSSHIM_IDLE_EXIT_SECONDS: 'x' })).toBe(60_000);
  });
});
