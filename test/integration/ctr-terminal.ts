// ctr with a terminal of its own, for `ctr run -t` and `ctr task exec -t`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultContainerd } from './harness/index.js';
import type { TsshimEnv } from './tsshim-env.js';

/** The ctr of the containerd under test, as the harness picks it. */
function ctrBinary(): string {
  const next = join(dirname(defaultContainerd()), 'ctr');
  return existsSync(next) ? next : 'ctr';
}

export const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface PtyRun {
  /** Everything ctr printed to its terminal so far. */
  output(): string;
  /** Writes to ctr's terminal, as typing would. */
  stdin: NodeJS.WritableStream;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  done: Promise<{ code: number; output: string }>;
}

/**
 * Runs ctr on a terminal of its own, as `ctr run -t` / `ctr task exec -t` need: util-linux
 * `script` gives it a pty whose size is set first, so ctr reads rows x cols from it and sends
 * them as ResizePty. `script -e` exits with ctr's status. `whileRunning` is a shell snippet run
 * in that terminal while ctr runs (in the background, still reading the terminal), e.g. to
 * resize it, which sends SIGWINCH to ctr.
 */
export function ctrOnTerminal(
  env: TsshimEnv,
  args: string[],
  o: { rows: number; cols: number; whileRunning?: string; timeoutMs?: number },
): PtyRun {
  const ctr = [ctrBinary(), '--address', env.c.address, '--namespace', env.c.namespace, ...args].map(quote).join(' ');
  const script = o.whileRunning
    ? `stty rows ${o.rows} cols ${o.cols}; ${ctr} </dev/tty & ctr=$!; ${o.whileRunning}; wait $ctr`
    : `stty rows ${o.rows} cols ${o.cols}; exec ${ctr}`;
  const cleanEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CONTAINERD_')) cleanEnv[k] = v;
  const child = spawn('script', ['-qfec', script, '/dev/null'], { env: cleanEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const chunks: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => {
    chunks.push(b);
    out += b.toString('latin1');
  });
  child.stderr.on('data', (b: Buffer) => (out += b.toString('latin1')));
  // ctr may exit before it has read all it was given.
  child.stdin.on('error', () => undefined);
  const timeoutMs = o.timeoutMs ?? 45_000;
  const done = new Promise<{ code: number; output: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ctr on a terminal did not finish within ${timeoutMs} ms; output so far:\n${out.slice(-2000)}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? -1, output: Buffer.concat(chunks).toString('latin1') });
    });
  });
  return {
    output: () => out,
    stdin: child.stdin,
    done,
    async waitForOutput(re, waitMs = 30_000) {
      const end = Date.now() + waitMs;
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (Date.now() > end) throw new Error(`${re} not seen within ${waitMs} ms; output so far:\n${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
