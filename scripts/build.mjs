// Bundles the shim into one CommonJS file: one file to read at start-up instead of hundreds of
// modules, which is most of a Node process's start-up cost (see docs/performance.md).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: ['src/shim/main.ts'],
  outfile: 'dist/shim.cjs',
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
