import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrls } from '../../src/api/any.js';
import { containerd } from '../../src/api/gen/proto.js';
import { skipUnlessRoot, uniqueId } from './harness/index.js';
import { bundleDir, startTsshimEnv, type TsshimEnv } from './tsshim-env.js';
import { runDetached, shimClient, siblingBundle, T, taskStatus } from './task-helpers.js';

const RUNC = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();

/** `criu check` fails on kernels whose vDSO layout this CRIU does not know (see docs/checkpoint.md). */
const criuWorks = spawnSync('criu', ['check'], { stdio: 'ignore' }).status === 0;

/** Runs the real runc after recording its argv, one invocation per line. */
function recordingRunc(dir: string): { binary: string; invocations(): string[][] } {
  const binary = join(dir, 'runc');
  const record = join(dir, 'record');
  writeFileSync(binary, `#!/bin/sh\nprintf '%s\\0' "$@" >> ${record}\nprintf '\\n' >> ${record}\nexec ${RUNC} "$@"\n`);
  chmodSync(binary, 0o755);
  return {
    binary,
    invocations: () => (existsSync(record) ? readFileSync(record, 'utf8') : '').split('\0\n').filter(Boolean).map((l) => l.split('\0')),
  };
}

/** The argv after runc's global flags (--root, --log, --log-format). */
function command(argv: string[]): string[] {
  const at = argv.indexOf('--log-format');
  return argv.slice(at + 2);
}

describe.skipIf(skipUnlessRoot())('checkpoint and restore through tsshim with real runc and CRIU', () => {
  let env: TsshimEnv;
  let scratch: string;
  let runc: ReturnType<typeof recordingRunc>;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'tss-cp-'));
    runc = recordingRunc(scratch);
    env = await startTsshimEnv({ config: `default_runtime = "runc"\n[runtimes.runc]\nbinary = "${runc.binary}"\n` });
  });

  afterAll(async () => {
    await env?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it.skipIf(criuWorks)('a failed checkpoint names CRIU\'s dump.log, copied into the bundle, and the task keeps running', async () => {
    const task = await runDetached(env, ['sleep', '100000'], { prefix: 'cpfail' });
    try {
      const bundle = bundleDir(env.c, task.id);
      const r = await env.c.ctr(['task', 'checkpoint', task.id]);
      expect(r.code).not.toBe(0);
      const dumpLog = join(bundle, 'criu-dump.log');
      expect(r.stderr).toContain(`path= ${dumpLog}`);
      expect(r.stderr).not.toMatch(/\n.*\n/); // one line: the runtime's first line, then the path
      expect(readFileSync(dumpLog, 'utf8')).toMatch(/vdso/i);
      // The default work dir is scratch space of the shim's.
      expect(existsSync(join(bundle, 'work', 'criu-work'))).toBe(false);
      // containerd pauses around a checkpoint and resumes afterwards, whatever its outcome.
      expect(await taskStatus(env, task.id)).toBe('RUNNING');
      expect(existsSync(`/proc/${task.pid}`)).toBe(true);
      const cmds = runc.invocations().map(command).filter((c) => ['pause', 'checkpoint', 'resume'].includes(c[0]!));
      // containerd's temporary image dir: ctd-checkpoint* in 1.6, ctrd-checkpoint* in 1.7 and 2.x.
      expect(cmds).toEqual([
        ['pause', task.id],
        ['checkpoint', '--image-path', expect.stringMatching(/ctr?d-checkpoint/), '--work-path', join(bundle, 'work', 'criu-work'), '--leave-running', task.id],
        ['resume', task.id],
      ]);
    } finally {
      await task.remove();
    }
  });

  // ctr 1.6 turns --exit, --image-path and --work-path into CheckpointOptions only for the
  // io.containerd.runc.* runtimes, so for tsshim they go to the shim's socket as containerd sends them.
  it('checkpoint for exit with an image and a work path gives runc exactly those, without --leave-running, and keeps the work dir', async () => {
    const task = await runDetached(env, ['sleep', '100000'], { prefix: 'cpexit' });
    const client = await shimClient(env, task.id);
    const image = join(scratch, `image-${task.id}`);
    const work = join(scratch, `work-${task.id}`);
    try {
      const options = containerd.runc.v1.CheckpointOptions.encode({ exit: true, imagePath: image, workPath: work }).finish();
      const request = T.CheckpointTaskRequest.encode({ id: task.id, path: image, options: { typeUrl: TypeUrls.CheckpointOptions, value: options } }).finish();
      if (criuWorks) {
        await client.call('Checkpoint', request);
      } else {
        const failed = await client.failure('Checkpoint', request);
        expect(failed.code).toBe(2);
        expect(failed.message).toMatch(new RegExp(`^criu failed: .* path= ${join(bundleDir(env.c, task.id), 'criu-dump.log')}$`));
        expect(readFileSync(join(work, 'dump.log'), 'utf8')).toMatch(/vdso/i);
      }
      const checkpoint = runc.invocations().map(command).find((c) => c[0] === 'checkpoint' && c.at(-1) === task.id);
      expect(checkpoint).toEqual(['checkpoint', '--image-path', image, '--work-path', work, task.id]);
    } finally {
      client.close();
      await task.remove();
    }
  });

  it('checkpoint options reach runc as flags: open TCP, external unix sockets, terminal, file locks, empty namespaces', async () => {
    const task = await runDetached(env, ['sleep', '100000'], { prefix: 'cpflags' });
    const client = await shimClient(env, task.id);
    const image = join(scratch, `image-${task.id}`);
    try {
      const options = containerd.runc.v1.CheckpointOptions.encode({
        openTcp: true, externalUnixSockets: true, terminal: true, fileLocks: true, emptyNamespaces: ['network'],
      }).finish();
      // Whether CRIU manages is the previous tests' business; here only runc's argv counts.
      await client.call('Checkpoint', T.CheckpointTaskRequest.encode({
        id: task.id, path: image, options: { typeUrl: TypeUrls.CheckpointOptions, value: options },
      }).finish()).catch(() => undefined);
      const checkpoint = runc.invocations().map(command).find((c) => c[0] === 'checkpoint' && c.at(-1) === task.id);
      expect(checkpoint).toEqual([
        'checkpoint', '--image-path', image, '--work-path', join(bundleDir(env.c, task.id), 'work', 'criu-work'),
        '--tcp-established', '--ext-unix-sk', '--shell-job', '--file-locks', '--empty-ns', 'network', '--leave-running', task.id,
      ]);
    } finally {
      client.close();
      await task.remove();
    }
  });

  // ctr can only restore from a checkpoint it made (ctr c checkpoint --task needs a working CRIU),
  // so the Create with `checkpoint` set goes to the shim's socket as containerd would send it.
  it('a task created from a checkpoint runs nothing until Start, which runs runc restore with the reference argv', async () => {
    const host = await runDetached(env, ['sleep', '100000'], { prefix: 'rshost' });
    const client = await shimClient(env, host.id);
    const id = uniqueId('restored');
    const sibling = siblingBundle(env, host.id, id);
    const image = join(scratch, `restore-${id}`);
    mkdirSync(image);
    try {
      const before = runc.invocations().length;
      const created = await client.call('Create', T.CreateTaskRequest.encode({ id, bundle: sibling.bundle, checkpoint: image }).finish(), T.CreateTaskResponse);
      expect(created!.pid).toBe(0);
      expect(runc.invocations().length).toBe(before);
      expect((await client.call('State', T.StateRequest.encode({ id }).finish(), T.StateResponse))!.status).toBe(1); // CREATED

      const failed = await client.failure('Start', T.StartRequest.encode({ id }).finish());
      expect(failed.code).toBe(2);
      expect(failed.message).toMatch(/^OCI runtime restore failed: /);
      const restore = runc.invocations().slice(before).map(command);
      expect(restore).toEqual([[
        'restore', '--image-path', image, '--work-path', join(sibling.bundle, 'work'),
        '--detach', '--pid-file', join(sibling.bundle, 'init.pid'), '-no-subreaper', '--bundle', sibling.bundle, id,
      ]]);
      // Still created, so containerd's cleanup (Delete) works as after any failed start.
      expect((await client.call('State', T.StateRequest.encode({ id }).finish(), T.StateResponse))!.status).toBe(1);
      await client.call('Delete', T.DeleteRequest.encode({ id }).finish());
    } finally {
      client.close();
      sibling.remove();
      await host.remove();
    }
  });
});
