import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { int64ToBigInt, millisToNanos, startTimer } from '../../../src/ttrpc/deadline.js';

describe('int64 conversions', () => {
  it('reads timeout_nano from a number, a Long or nothing', () => {
    expect(int64ToBigInt(undefined)).toBe(0n);
    expect(int64ToBigInt(null)).toBe(0n);
    expect(int64ToBigInt(1500.9)).toBe(1500n);
    expect(int64ToBigInt(millisToNanos(2 ** 40))).toBe(2n ** 40n * 1_000_000n);
  });

  it('turns milliseconds into nanoseconds exactly', () => {
    expect(millisToNanos(1.5).toString()).toBe('1500000');
    expect(millisToNanos(10_000_000_000).toString()).toBe('10000000000000000');
  });
});

describe('startTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once the time has passed, not before', () => {
    const fire = vi.fn();
    startTimer(1000, fire);
    vi.advanceTimersByTime(999);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('reaches a deadline beyond the 2^31-1 ms a single timer can wait', () => {
    const fire = vi.fn();
    startTimer(2 ** 31 + 5000, fire);
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(5000);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('never fires once cancelled', () => {
    const fire = vi.fn();
    const cancel = startTimer(1000, fire);
    cancel();
    vi.advanceTimersByTime(10_000);
    expect(fire).not.toHaveBeenCalled();
  });
});
