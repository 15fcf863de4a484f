// Entry of the daemon's V8 start-up snapshot, which `npm run package` builds with the pinned Node
// (docs/performance.md). Building it evaluates every module that `start`, the daemon and `delete`
// need, so a packaged process starts with them already in its heap instead of compiling and
// evaluating the bundle. Nothing here may read the environment or open anything at module level:
// whatever the build sees is frozen into every process started from the snapshot.
import { dirname } from 'node:path';
import { startupSnapshot } from 'node:v8';
import { addonLoaded, setAddonRoot } from '../sys/native.js';
import { main } from './cli.js';
import './start.js';
import './serve.js';
import './delete.js';

// A module that used the addon while being evaluated would break the snapshot in a less clear way.
if (addonLoaded()) throw new Error('a module evaluated into the start-up snapshot loaded the native addon');

startupSnapshot.setDeserializeMainFunction(() => {
  // The payload holds node and build/Release/ side by side; this bundle's own __dirname is the
  // build machine's.
  setAddonRoot(dirname(process.execPath));
  // The front end passes the bundle's path first, so argv reads as for `node shim.cjs …`.
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`containerd-shim-tsshim-v2: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
});
