import type { Logger } from 'pino';
import type { ExitInfo } from '../sys/index.js';

type ExitHandler = (exit: ExitInfo) => void;

/**
 * Routes reaped exits to the process that owns the pid. A process can exit before its pid is
 * known (a short command exits before `runc create`/`runc exec` returns and the pid file is read),
 * so while any spawn is in flight, exits nobody has claimed yet are kept and handed over when the
 * pid is claimed. With no spawn in flight an unclaimed exit is an orphan (a grandchild re-parented
 * to us as subreaper), already reaped, and nothing more is owed to it.
 */
export class ExitRouter {
  private readonly handlers = new Map<number, ExitHandler>();
  private readonly unclaimed = new Map<number, ExitInfo>();
  private spawning = 0;

  constructor(private readonly logger: Logger) {}

  /** Call before starting a runtime command that creates a process; call the result after claim(). */
  beginSpawn(): () => void {
    this.spawning++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.spawning === 0) this.unclaimed.clear();
    };
  }

  claim(pid: number, handler: ExitHandler): void {
    const early = this.unclaimed.get(pid);
    if (early) {
      this.unclaimed.delete(pid);
      queueMicrotask(() => handler(early));
      return;
    }
    this.handlers.set(pid, handler);
  }

  release(pid: number): void {
    this.handlers.delete(pid);
  }

  dispatch(exit: ExitInfo): void {
    const handler = this.handlers.get(exit.pid);
    if (handler) {
      this.handlers.delete(exit.pid);
      handler(exit);
      return;
    }
    if (this.spawning > 0) {
      this.unclaimed.set(exit.pid, exit);
      return;
    }
    this.logger.debug({ pid: exit.pid, status: exit.status }, 'reaped an orphan');
  }
}
