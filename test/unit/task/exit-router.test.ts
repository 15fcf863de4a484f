import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ExitRouter } from '../../../src/task/exit-router.js';

const logger = pino({ level: 'silent' });
const exit = (pid: number, status = 0) => ({ pid, status, exitedAt: new Date() });

describe('exit routing', () => {
  it('delivers an exit to the process that claimed its pid', () => {
    const r = new ExitRouter(logger);
    const seen: number[] = [];
    r.claim(10, (e) => seen.push(e.status));
    r.dispatch(exit(10, 3));
    r.dispatch(exit(10, 4));
    expect(seen).toEqual([3]);
  });

  it('keeps an exit that beats the pid file while a spawn is in flight, and hands it over at claim', async () => {
    const r = new ExitRouter(logger);
    const end = r.beginSpawn();
    r.dispatch(exit(20, 42));
    const got = new Promise<number>((resolve) => r.claim(20, (e) => resolve(e.status)));
    end();
    expect(await got).toBe(42);
  });

  it('forgets unclaimed exits (orphans) once no spawn is in flight', async () => {
    const r = new ExitRouter(logger);
    const end = r.beginSpawn();
    r.dispatch(exit(30, 1));
    end();
    let called = false;
    r.claim(30, () => {
      called = true;
    });
    await Promise.resolve();
    expect(called).toBe(false);
  });

  it('an orphan reaped with no spawn in flight is not kept', () => {
    const r = new ExitRouter(logger);
    r.dispatch(exit(40));
    let called = false;
    r.claim(40, () => (called = true));
    return Promise.resolve().then(() => expect(called).toBe(false));
  });
});
