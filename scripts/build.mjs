// Bundles each entry point into one CommonJS file: one file to read at start-up instead of
// hundreds of modules, which is most of a Node process's start-up cost (see docs/performance.md).
// The ttrpc library entry (`tsshim/ttrpc`) also gets its type declarations.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const entries = [
  { in: 'src/shim/main.ts', out: 'dist/shim.cjs' },
  // The packaged shim runs from a start-up snapshot of this one (scripts/package.mjs).
  { in: 'src/shim/snapshot-main.ts', out: 'dist/shim-snapshot.cjs' },
  { in: 'src/ctl/main.ts', out: 'dist/tsshimctl.cjs' },
  { in: 'src/ttrpc/index.ts', out: 'dist/ttrpc.cjs' },
];

await Promise.all(
  entries.map((e) =>
    build({
      absWorkingDir: root,
      entryPoints: [e.in],
      outfile: e.out,
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      sourcemap: 'linked',
      legalComments: 'none',
      // Every daemon holds its bundle's source as a V8 string for its whole life: without
      // comments and indentation it is 0.66 MB instead of 1.17 MB, and pure ASCII (esbuild's
      // comments kept a few non-ASCII characters, which made V8 store all of it two bytes a
      // character): 1.15 MiB less per daemon. Names are kept, so stack traces stay readable;
      // the linked source map gives lines.
      minifyWhitespace: true,
      minifySyntax: true,
      logLevel: 'warning',
    }),
  ),
);

execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
// tsc emits no declarations for .d.ts inputs; the transport's types refer to the generated messages.
mkdirSync(join(root, 'dist/types/api/gen'), { recursive: true });
copyFileSync(join(root, 'src/api/gen/proto.d.ts'), join(root, 'dist/types/api/gen/proto.d.ts'));
