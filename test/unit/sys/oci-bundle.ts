// A throw-away OCI bundle (busybox rootfs) and a private runc root for tests that need a real
// container. It is force-deleted when the test finishes, also when it fails or times out.
import { execFile, spawn, type StdioOptions } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';

const execFileP = promisify(execFile);
const BUSYBOX = '/usr/bin/busybox';
let counter = 0;

export interface Bundle {
  id: string;
  dir: string;
  pidFile: string;
  /** runc with the private root and a log file, for commands that do not start a container. */
  runc(...args: string[]): Promise<string>;
  /** `runc create`, with the given stdio handed through to the container process. */
  create(stdio: StdioOptions, ...extra: string[]): Promise<void>;
  pid(): number;
}

export function needsRoot(): boolean {
  return process.getuid?.() === 0;
}

export async function makeBundle(args: string[], opts: { terminal?: boolean } = {}): Promise<Bundle> {
  const dir = mkdtempSync(join(tmpdir(), 'tsshim-sys-'));
  const id = `tsshim-sys-${process.pid}-${++counter}`;
  const root = join(dir, 'runc-root');
  const log = join(dir, 'runc.log');
  const pidFile = join(dir, 'init.pid');
  const bin = join(dir, 'rootfs', 'bin');
  mkdirSync(bin, { recursive: true });
  copyFileSync(BUSYBOX, join(bin, 'busybox'));
  const { stdout: applets } = await execFileP(BUSYBOX, ['--list']);
  for (const name of applets.split('\n')) if (name && name !== 'busybox') symlinkSync('busybox', join(bin, name));
  await execFileP('runc', ['spec'], { cwd: dir });
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  config.process.args = args;
  config.process.terminal = opts.terminal ?? false;
  config.process.env = ['PATH=/bin', 'TERM=xterm'];
  writeFileSync(configPath, JSON.stringify(config));

  const runc = async (...a: string[]) => {
    try {
      return (await execFileP('runc', ['--root', root, '--log', log, ...a])).stdout;
    } catch (err) {
      throw new Error(`runc ${a.join(' ')} failed: ${(err as Error).message}\n${readLog(log)}`);
    }
  };
  onTestFinished(async () => {
    await execFileP('runc', ['--root', root, 'delete', '--force', id]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    id,
    dir,
    pidFile,
    runc,
    async create(stdio, ...extra) {
      // Not execFile: the container inherits runc's stdio, so a Node-made pipe would stay open
      // for the container's lifetime. Wait for runc's own exit only.
      const child = spawn('runc', ['--root', root, '--log', log, 'create', '--bundle', dir, '--pid-file', pidFile, ...extra, id], { stdio });
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', resolve);
      });
      if (code !== 0) throw new Error(`runc create exited with ${code}\n${readLog(log)}`);
    },
    pid: () => Number(readFileSync(pidFile, 'utf8')),
  };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
