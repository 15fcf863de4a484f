#!/usr/bin/env node
// Builds the busybox test image without any image registry: a rootfs made from the host's
// static busybox (one binary plus applet symlinks) and an OCI image-layout tarball of it that
// `ctr images import` accepts. Both are cached under <project>/.cache/busybox/<key>/, where the
// key is derived from the busybox binary, so a busybox upgrade rebuilds them.
//
// With --pause it builds the Kubernetes sandbox (pause) image instead, from the same layer.
//
// Usage: node scripts/make-busybox-image.mjs [--pause] [--busybox PATH] [--cache-dir DIR]
// Prints one JSON line: {"ref":…,"imageTar":…,"rootfs":…} ({"ref":…,"imageTar":…} with --pause)
//
// Plain JavaScript on purpose: it runs on whatever Node the host has (demo, CI) and is also
// imported by the TypeScript test harness.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const BUSYBOX_REF = 'docker.io/library/busybox:tsshim-test';
/** The sandbox image of the Kubernetes docs and tests (docs/kubernetes/sandbox-image-*.toml). */
export const PAUSE_REF = 'localhost/tsshim/pause:1';
// Bump when the layout of the generated rootfs or image changes, so stale caches are not reused.
const FORMAT = 2;

const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function sha256File(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

function goArch() {
  const map = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

async function exists(p) {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function buildRootfs(busybox, rootfs) {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'var', 'proc', 'sys', 'dev', 'tmp']) {
    await fs.mkdir(path.join(rootfs, d), { recursive: true });
  }
  await fs.chmod(path.join(rootfs, 'tmp'), 0o1777);
  await fs.chmod(path.join(rootfs, 'root'), 0o700);
  await fs.copyFile(busybox, path.join(rootfs, 'bin/busybox'));
  await fs.chmod(path.join(rootfs, 'bin/busybox'), 0o755);

  const { stdout } = await run(busybox, ['--list-full']);
  for (const applet of stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const target = path.join(rootfs, applet);
    if (applet === 'bin/busybox' || (await exists(target))) continue;
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.symlink('/bin/busybox', target);
  }

  await fs.writeFile(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await fs.writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

// Deterministic tar flags so the same busybox always yields the same layer digest.
async function tarDir(dir, out) {
  await run('tar', [
    '--create', '--file', out, '--sort=name', '--mtime=@0', '--owner=0', '--group=0',
    '--numeric-owner', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-C', dir, '.',
  ]);
}

async function writeBlob(layoutDir, data) {
  const hex = sha256(data);
  await fs.writeFile(path.join(layoutDir, 'blobs/sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

// What the image runs: the test image is plain busybox (sh); the pause image is a sandbox
// container for Kubernetes pods, which waits until it is told to stop and then exits 0.
const IMAGES = {
  busybox: { ref: BUSYBOX_REF, config: { Cmd: ['sh'] } },
  pause: {
    ref: PAUSE_REF,
    config: { Entrypoint: ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'] },
  },
};

async function buildImage(rootfs, imageTar, work, image) {
  const layoutDir = path.join(work, 'layout');
  await fs.mkdir(path.join(layoutDir, 'blobs/sha256'), { recursive: true });

  const layerTmp = path.join(work, 'layer.tar');
  await tarDir(rootfs, layerTmp);
  const layerHex = await sha256File(layerTmp);
  const layerSize = (await fs.stat(layerTmp)).size;
  await fs.rename(layerTmp, path.join(layoutDir, 'blobs/sha256', layerHex));

  const config = {
    architecture: goArch(),
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...image.config,
    },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] },
  };
  const configDesc = await writeBlob(layoutDir, Buffer.from(JSON.stringify(config)));

  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configDesc },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerHex}`, size: layerSize }],
  };
  const manifestDesc = await writeBlob(layoutDir, Buffer.from(JSON.stringify(manifest)));

  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifestDesc,
        platform: { architecture: goArch(), os: 'linux' },
        // containerd names the imported image after io.containerd.image.name when present,
        // which avoids depending on ctr's --base-name/--index-name handling across versions.
        annotations: {
          'io.containerd.image.name': image.ref,
          'org.opencontainers.image.ref.name': image.ref.split(':').pop(),
        },
      },
    ],
  };
  await fs.writeFile(path.join(layoutDir, 'index.json'), JSON.stringify(index));
  await fs.writeFile(path.join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await tarDir(layoutDir, imageTar);
  await fs.rm(layoutDir, { recursive: true, force: true });
}

/**
 * Returns the cached busybox rootfs and image tarball, building them first if needed.
 * Safe to call from several processes at once: each builds in its own temp dir and the
 * first one to rename it into place wins.
 */
export async function ensureBusyboxArtifacts(opts = {}) {
  const busybox = opts.busybox ?? '/bin/busybox';
  const cacheDir = opts.cacheDir ?? path.join(projectDir, '.cache');
  const key = `${FORMAT}-${(await sha256File(busybox)).slice(0, 16)}`;
  const finalDir = path.join(cacheDir, 'busybox', key);
  const result = { ref: BUSYBOX_REF, imageTar: path.join(finalDir, 'image.tar'), rootfs: path.join(finalDir, 'rootfs') };
  if (await exists(path.join(finalDir, 'complete'))) return result;

  // A static busybox is required: the image has no libc.
  const { stdout: fileInfo } = await run('ldd', [busybox]).catch((e) => ({ stdout: String(e.stdout ?? '') + String(e.stderr ?? '') }));
  if (!/not a dynamic executable|statically linked/.test(fileInfo)) {
    throw new Error(`${busybox} is not statically linked (install busybox-static)`);
  }

  await fs.mkdir(path.join(cacheDir, 'busybox'), { recursive: true });
  await buildOnce(path.join(cacheDir, 'busybox', `.build-${key}-`), finalDir, async (work) => {
    await buildRootfs(busybox, path.join(work, 'rootfs'));
    await buildImage(path.join(work, 'rootfs'), path.join(work, 'image.tar'), work, IMAGES.busybox);
  });
  return result;
}

/**
 * Builds into a fresh directory beside finalDir, marks it complete and renames it into place, so
 * a reader never sees half a build; a concurrent build that got there first wins.
 */
async function buildOnce(workPrefix, finalDir, build) {
  const work = await fs.mkdtemp(workPrefix);
  try {
    await build(work);
    await fs.writeFile(path.join(work, 'complete'), '');
    try {
      await fs.rename(work, finalDir);
    } catch (err) {
      if (!(await exists(path.join(finalDir, 'complete')))) throw err;
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * Returns the pause image tarball (same busybox layer, the pause command), building it first if
 * needed, in its own cache directory next to the busybox image's.
 */
export async function ensurePauseImage(opts = {}) {
  const busybox = await ensureBusyboxArtifacts(opts);
  const cacheDir = opts.cacheDir ?? path.join(projectDir, '.cache');
  const finalDir = path.join(cacheDir, 'busybox', `pause-${path.basename(path.dirname(busybox.imageTar))}`);
  const result = { ref: PAUSE_REF, imageTar: path.join(finalDir, 'image.tar') };
  if (await exists(path.join(finalDir, 'complete'))) return result;
  await buildOnce(path.join(cacheDir, 'busybox', '.build-pause-'), finalDir, (work) =>
    buildImage(busybox.rootfs, path.join(work, 'image.tar'), work, IMAGES.pause),
  );
  return result;
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--busybox') opts.busybox = argv[++i];
    else if (a === '--cache-dir') opts.cacheDir = argv[++i];
    else if (a === '--pause') opts.pause = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  (opts.pause ? ensurePauseImage(opts) : ensureBusyboxArtifacts(opts)).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(`make-busybox-image: ${err.message}`);
      process.exit(1);
    },
  );
}
