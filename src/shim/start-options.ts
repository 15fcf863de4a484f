import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { google } from '../api/gen/proto.js';
import { joinCgroup } from '../sys/cgroups/index.js';
import { decodeOptions } from './runtime-binding.js';

/** containerd writes the options and closes the pipe at once; only a hand-run start leaves it open. */
const STDIN_BOUND_MS = 2_000;

/**
 * The task's runtime options, which containerd writes to `start`'s stdin as a serialized Any
 * (the same Any Create gets). Undefined when there are none or they do not decode: Create
 * reports a bad options type precisely, so `start` ignores it, as the reference shim does.
 */
export async function readStartOptions(): Promise<google.protobuf.IAny | undefined> {
  const bytes = await readStdin();
  if (bytes.length === 0) return undefined;
  try {
    return google.protobuf.Any.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Options.shim_cgroup (or the legacy CreateOptions' twin): `start` moves the daemon, which is
 * this process, into that cgroup before it reports its address; failing to is a failed start.
 */
export function joinShimCgroup(options: google.protobuf.IAny | undefined): string | undefined {
  let cgroup: string | undefined;
  try {
    cgroup = decodeOptions(options).runc?.shimCgroup || undefined;
  } catch {
    return undefined;
  }
  if (cgroup) joinCgroup(cgroup, process.pid);
  return cgroup;
}

function readStdin(): Promise<Buffer> {
  let stat;
  try {
    stat = fstatSync(0);
  } catch {
    return Promise.resolve(Buffer.alloc(0));
  }
  if (stat.isFile()) return Promise.resolve(readFileSync(0));
  // A terminal or /dev/null: nothing to read, and a terminal would never end.
  if (!stat.isFIFO() && !stat.isSocket()) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    // A pipe is read through libuv, never with a blocking read on the thread pool.
    const sock = new net.Socket({ fd: 0, readable: true, writable: false });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
    };
    timer = setTimeout(done, STDIN_BOUND_MS);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', done);
    sock.on('error', done);
    sock.on('close', () => {
      // Keep fd 0 taken, by /dev/null, so no later descriptor becomes this process's stdin.
      const fd = openSync('/dev/null', 'r');
      if (fd !== 0) closeSync(fd);
      resolve(Buffer.concat(chunks));
    });
  });
}
