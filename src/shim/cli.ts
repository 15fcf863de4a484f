import { writeSync } from 'node:fs';
import { FlagError, identifierFlagProblem, parseFlags, type ShimFlags } from './flags.js';
import { VERSION } from './version.js';

const NAME = 'containerd-shim-tsshim-v2';

function fail(message: string, code = 1): never {
  const text = `${NAME}: ${message}\n`;
  // Under `start` the launcher reads only the ready pipe: stderr goes to the log FIFO.
  const readyFd = Number.parseInt(process.env.TSSHIM_READY_FD ?? '', 10);
  if (Number.isInteger(readyFd)) writeSync(readyFd, text);
  else process.stderr.write(text);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  let flags: ShimFlags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (err instanceof FlagError) fail(err.message, 2);
    throw err;
  }
  if (flags.version) {
    process.stdout.write(`${NAME}:\n  Version:  ${VERSION}\n  Node.js:  ${process.version}\n`);
    return;
  }
  if (flags.action === 'check') {
    let result;
    try {
      result = await (await import('./check.js')).check(flags.rest);
    } catch (err) {
      if (err instanceof FlagError) fail(err.message, 2);
      throw err;
    }
    process.stdout.write(result.text);
    process.exitCode = result.exitCode;
    return;
  }
  if (flags.info) {
    return (await import('./info.js')).info();
  }
  if (!flags.namespace) fail('shim namespace cannot be empty');
  const idProblem = ['start', 'delete', ''].includes(flags.action) ? identifierFlagProblem(flags) : undefined;
  if (idProblem) fail(idProblem);
  switch (flags.action) {
    case 'start':
      return (await import('./start.js')).start(flags);
    case 'delete':
      return (await import('./delete.js')).deleteAction(flags);
    case '':
      // Serve mode by hand (debugging): containerd itself always goes through `start`.
      if (!flags.socket) fail('serve mode needs -socket <path>');
      return serveByHand(flags, flags.socket);
    default:
      fail(`unknown action ${JSON.stringify(flags.action)}`);
  }
}

async function serveByHand(flags: ShimFlags, path: string): Promise<void> {
  const socket = await (await import('./socket-binding.js')).bindSocket(path, { replaceStale: false });
  if (socket.kind === 'served-elsewhere') fail(`a daemon already serves ${path}`);
  return (await import('./serve.js')).serve(flags, { socket });
}
