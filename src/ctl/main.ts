// tsshimctl: drives any shim v2 binary without containerd, and reads tsshim's traces.
import { randomBytes } from 'node:crypto';
import { UsageError, keyValues, one, parseArgs, required } from './args.js';

const USAGE = `usage:
  tsshimctl run --shim BINARY --rootfs DIR [--id ID] [--namespace NS] [--runtime-config FILE]
                [--tty] [--env K=V]... [--annotation K=V]... [--events] [--debug] -- CMD [ARGS...]
  tsshimctl call --socket PATH [--namespace NS] METHOD [JSON]
  tsshimctl events --socket PATH
  tsshimctl trace [--id ID] FILE
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const a = parseArgs(rest, { values: ['shim', 'rootfs', 'id', 'namespace', 'runtime-config', 'env', 'annotation'], bools: ['tty', 'events', 'debug'] });
      if (a.positional.length === 0) throw new UsageError('run: no command given (after --)');
      const env = keyValues(a, 'env');
      const { run } = await import('./run.js');
      return run(
        {
          shim: required(a, 'shim'),
          rootfs: required(a, 'rootfs'),
          id: one(a, 'id') ?? `tsshimctl-${randomBytes(4).toString('hex')}`,
          namespace: one(a, 'namespace') ?? 'default',
          runtimeConfig: one(a, 'runtime-config'),
          tty: a.bools.has('tty'),
          env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
          annotations: keyValues(a, 'annotation'),
          args: a.positional,
          printEvents: a.bools.has('events'),
          debug: a.bools.has('debug'),
        },
        {
          events: (e) => process.stderr.write(`${JSON.stringify(e)}\n`),
          log: (line) => process.stderr.write(`tsshimctl: ${line}\n`),
        },
      );
    }
    case 'call': {
      const a = parseArgs(rest, { values: ['socket', 'namespace'], bools: [] });
      const [method, json] = a.positional;
      if (!method) throw new UsageError('call: no METHOD given');
      const { call } = await import('./call.js');
      return call({ socket: required(a, 'socket'), namespace: one(a, 'namespace') ?? 'default', method, json });
    }
    case 'events': {
      const a = parseArgs(rest, { values: ['socket'], bools: [] });
      const { events } = await import('./events.js');
      return events(required(a, 'socket'));
    }
    case 'trace': {
      const a = parseArgs(rest, { values: ['id'], bools: [] });
      const [file] = a.positional;
      if (!file) throw new UsageError('trace: no FILE given');
      const { renderTraceFile } = await import('../trace/render.js');
      process.stdout.write(await renderTraceFile(file, one(a, 'id')));
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as Error & { exitCode?: number };
    if (err instanceof UsageError) {
      process.stderr.write(`tsshimctl: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`tsshimctl: ${e?.message ?? String(err)}\n`);
    process.exit(e?.exitCode ?? 125);
  },
);
