import { closeSync, mkdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimFlags } from './flags.js';
import { writeAddressSync } from '../task/bundle-files.js';
import { groupingAtStart } from './grouping.js';
import { GROUP_SOCKET_ENV, groupKey, socketDir, socketPath } from './socket-address.js';
import { bindSocket } from './socket-binding.js';
import { joinShimCgroup, readStartOptions } from './start-options.js';

/** Set by the launcher: the pipe on which `start` reports the address, or why it failed. */
const READY_FD_ENV = 'TSSHIM_READY_FD';
/** Set by the launcher: containerd's pid, whose OOM score the daemon follows. */
const CONTAINERD_PID_ENV = 'TSSHIM_CONTAINERD_PID';

function readAnnotations(bundle: string): Record<string, string> | undefined {
  try {
    return (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> }).annotations;
  } catch {
    // No readable spec (a hand-run start): the task id alone is the group.
    return undefined;
  }
}

/** The daemon gets containerd's OOM score + 1, so the kernel prefers it over containerd (reference shim). */
function followOomScore(containerdPid: string | undefined): void {
  if (!containerdPid) return;
  try {
    const parent = Number.parseInt(readFileSync(`/proc/${containerdPid}/oom_score_adj`, 'utf8').trim(), 10);
    writeFileSync('/proc/self/oom_score_adj', String(Math.min(parent + 1, 1000)));
  } catch {
    // Best effort, as in the reference shim: an unprivileged or unusual host keeps the default.
  }
}

/**
 * The `start` action. The launcher has already put this process in its own session with its
 * output on the log FIFO; it becomes the task's (or group's) serving daemon and reports the
 * address on the ready pipe once it accepts calls. If a daemon already serves the group, it
 * reports that one's address and exits: the only place, with the failure below, where `start`
 * ends the process.
 */
export async function start(flags: ShimFlags): Promise<void> {
  const readyFd = Number.parseInt(process.env[READY_FD_ENV] ?? '', 10);
  if (!Number.isInteger(readyFd)) {
    throw new Error('start must be run through bin/containerd-shim-tsshim-v2, which provides the ready pipe');
  }
  const containerdPid = process.env[CONTAINERD_PID_ENV];
  // Not for the runtimes and containers this daemon will start.
  delete process.env[READY_FD_ENV];
  delete process.env[CONTAINERD_PID_ENV];
  const derived = process.env[GROUP_SOCKET_ENV];
  delete process.env[GROUP_SOCKET_ENV];
  let reported = false;
  const report = (text: string) => {
    if (reported) return;
    reported = true;
    writeSync(readyFd, text);
    closeSync(readyFd);
  };

  try {
    const options = await readStartOptions();
    const bundle = process.cwd();
    const dir = socketDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = derived || socketPath(dir, flags.address, flags.namespace, groupKey(flags.id, readAnnotations(bundle), await groupingAtStart(options)));
    const address = `unix://${path}`;
    const socket = await bindSocket(path, { replaceStale: true });
    if (socket.kind === 'served-elsewhere') {
      writeAddressSync(bundle, address);
      report(address);
      process.exit(0);
    }
    // Before serving, so the daemon and everything it spawns are accounted there from the start.
    try {
      joinShimCgroup(options);
    } catch (err) {
      socket.release();
      throw err;
    }
    const { serve } = await import('./serve.js');
    await serve(flags, {
      socket,
      onListening: () => {
        writeAddressSync(bundle, address);
        followOomScore(containerdPid);
        report(address);
      },
    });
  } catch (err) {
    report(`start failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
