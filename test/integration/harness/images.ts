import { ensureBusyboxArtifacts } from '../../../scripts/make-busybox-image.mjs';
import type { Containerd } from './containerd.js';
import { cacheDir } from './paths.js';

const imported = new WeakMap<Containerd, Promise<string>>();

/**
 * Imports (once per daemon) a busybox image built from the host's static busybox and returns
 * its reference. `ctr images import` also unpacks it for the default snapshotter, so the
 * reference can be given straight to `ctr run`.
 */
export function busyboxImage(c: Containerd): Promise<string> {
  let p = imported.get(c);
  if (!p) {
    p = (async () => {
      const { ref, imageTar } = await ensureBusyboxArtifacts({ cacheDir: cacheDir() });
      const r = await c.ctr(['images', 'import', imageTar], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`ctr images import ${imageTar} failed (${r.code}): ${r.stderr}`);
      return ref;
    })();
    imported.set(c, p);
    p.catch(() => imported.delete(c));
  }
  return p;
}

/**
 * A plain busybox root filesystem directory for `ctr run --rootfs`. It is shared by every test
 * and every run: pass `--read-only` to `ctr run` unless the container must write to it.
 */
export async function busyboxRootfs(): Promise<string> {
  return (await ensureBusyboxArtifacts({ cacheDir: cacheDir() })).rootfs;
}
