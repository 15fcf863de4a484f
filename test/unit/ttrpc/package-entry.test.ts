// The transport as a library user sees it: `tsshim/ttrpc` from package.json `exports` (the built
// bundle, so run `npm run build` first), with its declaration file next to it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

describe('the tsshim/ttrpc entry point', () => {
  it('resolves to the built bundle with declarations, and its server and client talk', async () => {
    const entry = require.resolve('tsshim/ttrpc');
    expect(entry).toMatch(/dist\/ttrpc\.cjs$/);
    expect(existsSync(join(entry, '..', 'types', 'ttrpc', 'index.d.ts'))).toBe(true);
    const { TtrpcServer, TtrpcClient, StatusError, Code } = require('tsshim/ttrpc') as typeof import('../../../src/ttrpc/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'ttrpc-entry-'));
    const server = new TtrpcServer();
    server.register('demo.Echo', {
      Echo: {
        decode: (b: Uint8Array) => Buffer.from(b).toString(),
        encode: (s: string) => Buffer.from(s),
        handler: (req: string, ctx) => {
          if (req === 'fail') throw new StatusError(Code.NotFound, 'nothing here');
          return `${req} ${ctx.metadata.get('who')?.[0]} ${ctx.deadline ? 'with' : 'without'} deadline`;
        },
      },
    });
    try {
      await server.listen({ path: join(dir, 's.sock') });
      const client = await TtrpcClient.connect(`unix://${join(dir, 's.sock')}`);
      const reply = await client.call('demo.Echo', 'Echo', Buffer.from('hi'), { metadata: { who: 'me' }, timeoutMs: 5000 });
      expect(Buffer.from(reply).toString()).toBe('hi me with deadline');
      const err = await client.call('demo.Echo', 'Echo', Buffer.from('fail')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StatusError);
      expect(err).toMatchObject({ code: Code.NotFound, message: 'nothing here' });
      client.close();
    } finally {
      await server.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
