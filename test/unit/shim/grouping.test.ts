import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runtimeoptions } from '../../../src/api/gen/proto.js';
import { groupingAtStart } from '../../../src/shim/grouping.js';

let dir: string;
const saved = process.env.TSSHIM_CONFIG;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-grouping-'));
  writeFileSync(join(dir, 'node.toml'), 'grouping = "node"\n');
  writeFileSync(join(dir, 'task.toml'), 'grouping = "task"\n');
});
afterEach(() => {
  if (saved === undefined) delete process.env.TSSHIM_CONFIG;
  else process.env.TSSHIM_CONFIG = saved;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const configPathOption = (configPath: string) => ({
  typeUrl: 'runtimeoptions.v1.Options',
  value: runtimeoptions.v1.Options.encode({ configPath }).finish(),
});

describe('groupingAtStart', () => {
  it('reads the grouping of the config named by the runtime options, before $TSSHIM_CONFIG', async () => {
    process.env.TSSHIM_CONFIG = join(dir, 'task.toml');
    expect(await groupingAtStart(configPathOption(join(dir, 'node.toml')))).toBe('node');
  });

  it('falls back to $TSSHIM_CONFIG without options', async () => {
    process.env.TSSHIM_CONFIG = join(dir, 'task.toml');
    expect(await groupingAtStart(undefined)).toBe('task');
  });

  it('serves the default grouping when the named config does not load, leaving the refusal to Create', async () => {
    expect(await groupingAtStart(configPathOption(join(dir, 'absent.toml')))).toBe('pod');
    writeFileSync(join(dir, 'broken.toml'), 'grouping = 3\n');
    expect(await groupingAtStart(configPathOption(join(dir, 'broken.toml')))).toBe('pod');
  });
});
