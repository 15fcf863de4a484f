import type { ProcessIO } from '../io/process-io.js';
import { readPidFileSync } from './bundle-files.js';
import type { ExitRouter } from './exit-router.js';
import type { ExitRecord, ProcessRecord } from './process.js';

/**
 * The one sequence by which a runtime command creates a process (`runc create`, `runc exec`,
 * `runc restore`): announce the spawn to the exit router, run the command, let the stdio plumbing
 * take over the child ends, read the pid the runtime wrote, and claim that pid's exit. An exit that
 * beats the pid file is kept by the router and handed over at the claim, so none is lost.
 *
 * The pid is set on the record before the claim: the exit handler may run right after it.
 * On failure nothing is claimed; closing the stdio and undoing the runtime's work is the caller's.
 */
export async function spawnProcess(o: {
  router: ExitRouter;
  process: ProcessRecord;
  io: ProcessIO;
  pidFile: string;
  run: () => Promise<void>;
  onExit: (exit: ExitRecord) => void;
}): Promise<void> {
  const endSpawn = o.router.beginSpawn();
  try {
    await o.run();
    await o.io.runtimeStarted();
    o.process.pid = readPidFileSync(o.pidFile);
    o.router.claim(o.process.pid, (e) => o.onExit({ status: e.status, at: e.exitedAt }));
  } finally {
    endSpawn();
  }
}
