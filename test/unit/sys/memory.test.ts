import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { collectGarbage, trimMalloc } from '../../../src/sys/memory.js';

const anonBytes = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

describe('memory', () => {
  it('collects garbage synchronously: an unreachable object is gone when it returns', async () => {
    let obj: object | undefined = { big: new Array(1_000).fill(0) };
    const ref = new WeakRef(obj);
    obj = undefined;
    // A WeakRef's target lives until the end of the job that created it.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });

  it('leaves no gc on contexts created afterwards', () => {
    collectGarbage();
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });

  it('trims malloc: freed blocks inside the heap go back to the kernel', async () => {
    // 80 MB of small blocks (below malloc's mmap threshold, so from the heap), every 64th kept:
    // the heap cannot shrink from its top, and free() alone gives nothing back.
    let blocks: Buffer[] = Array.from({ length: 20_000 }, () => Buffer.allocUnsafeSlow(4_000).fill(1));
    const kept = blocks.filter((_, i) => i % 64 === 63);
    blocks = [];
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    // V8 frees the backing stores of collected Buffers on a background thread: let it finish.
    const settled = () => new Promise((resolve) => setTimeout(resolve, 200));
    await settled();
    collectGarbage();
    await settled();
    const freed = anonBytes();
    expect(trimMalloc()).toBe(true);
    expect(freed - anonBytes()).toBeGreaterThan(40 << 20);
    expect(kept.every((b) => b[0] === 1)).toBe(true);
  });
});
