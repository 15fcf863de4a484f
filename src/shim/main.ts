// Entry point of the bundle. The action modules are imported lazily so that `start` and
// `delete`, which containerd runs for every task, do not evaluate what only the daemon needs.
import('./cli.js').then(
  (m) => m.main(process.argv.slice(2)),
  (err: unknown) => {
    process.stderr.write(`containerd-shim-tsshim-v2: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
