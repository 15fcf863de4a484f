import { spawn } from 'node:child_process';
import { linkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TtrpcClient } from '../../../src/ttrpc/index.js';
import { tempDir, type TempDir } from './helpers.js';

let dir: TempDir;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

// The shim's `start` binds the socket and hands the listening fd to the daemon it spawns.
it('serves on a listening socket inherited as a file descriptor by a child process', async () => {
  const entry = join(dir.path, 'child.ts');
  const bundle = join(dir.path, 'child.mjs');
  writeFileSync(
    entry,
    `import { TtrpcServer } from ${JSON.stringify(join(process.cwd(), 'src/ttrpc/index.ts'))};
     const server = new TtrpcServer();
     server.register('test.Echo', { Echo: { decode: (b) => b, encode: (b) => b, handler: (b) => Buffer.concat([Buffer.from('child:'), b]) } });
     await server.listen({ fd: 3 });
     process.send('ready');
     process.on('disconnect', () => server.shutdown({ graceMs: 0 }));`,
  );
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'error', nodePaths: [join(process.cwd(), 'node_modules')] });

  const bound = dir.socket('bound.sock');
  const parent = net.createServer();
  await new Promise<void>((r) => parent.listen(bound, r));
  const fd = (parent as unknown as { _handle: { fd: number } })._handle.fd;
  const child = spawn(process.execPath, [bundle], { stdio: ['ignore', 'inherit', 'inherit', fd, 'ipc'] });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  // Closing the parent's listener unlinks the path it bound (libuv does), so the socket is reached
  // through a second name; only the child accepts on it from then on.
  const alias = dir.socket('alias.sock');
  linkSync(bound, alias);
  await new Promise<void>((r) => parent.close(() => r()));

  const client = await TtrpcClient.connect(alias);
  expect(Buffer.from(await client.call('test.Echo', 'Echo', Buffer.from('hi'))).toString()).toBe('child:hi');
  client.close();
  const exited = new Promise((r) => child.once('exit', r));
  child.disconnect();
  await exited;
});
