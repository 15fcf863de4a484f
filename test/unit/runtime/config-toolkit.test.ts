import { describe, expect, it } from 'vitest';
import { Code } from '../../../src/errors/index.js';
import { formatProblem, parseConfig } from '../../../src/runtime/config.js';

const FILE = '/etc/tsshim/config.toml';
const problems = (text: string) => parseConfig(text, FILE).problems.map(formatProblem);

describe('toolkit keys of the config', () => {
  it('are off when not configured', () => {
    const { config } = parseConfig('default_runtime = "runc"\n', FILE);
    expect(config?.faults).toEqual([]);
    expect(config?.trace).toBeUndefined();
    expect(config?.hooks).toBeUndefined();
  });

  it('reads every kind of fault with its match, action and count or probability', () => {
    const { config, problems: p } = parseConfig(`
[[faults]]
method = "Start"
id = "web-*"
action = "error"
code = "Unavailable"
message = "no"
count = 2
[[faults]]
runtime = "exec"
action = "runtime-fail"
stderr = "exec failed: boom"
probability = 0.5
[[faults]]
method = "Create"
action = "delay"
delay_ms = 250
[[faults]]
method = "Wait"
action = "hang"
[[faults]]
runtime = "kill"
action = "crash"
`, FILE);
    expect(p).toEqual([]);
    expect(config!.faults).toEqual([
      { index: 0, target: { method: 'Start' }, id: 'web-*', action: { kind: 'error', code: Code.Unavailable, message: 'no' }, count: 2 },
      { index: 1, target: { runtime: 'exec' }, action: { kind: 'runtime-fail', stderr: 'exec failed: boom' }, probability: 0.5 },
      { index: 2, target: { method: 'Create' }, action: { kind: 'delay', ms: 250 } },
      { index: 3, target: { method: 'Wait' }, action: { kind: 'hang' } },
      { index: 4, target: { runtime: 'kill' }, action: { kind: 'crash' } },
    ]);
  });

  it('refuses invalid fault entries naming the file, the key and what was expected', () => {
    expect(problems('[[faults]]\nmethod = "Starts"\naction = "error"\ncode = "Unavailable"\n')).toEqual([
      `${FILE}: faults[0].method: expected a Task API method (one of: State, Create, Start, Delete, Pids, Pause, Resume, Checkpoint, Kill, Exec, ResizePty, CloseIO, Update, Wait, Stats, Connect, Shutdown), got "Starts"`,
    ]);
    expect(problems('[[faults]]\nmethod = "Start"\nruntime = "start"\naction = "crash"\n')).toEqual([
      `${FILE}: faults[0]: expected exactly one of method (a Task API method) or runtime (a runtime command)`,
    ]);
    expect(problems('[[faults]]\nmethod = "Start"\naction = "error"\ncode = "Nope"\n')[0]).toMatch(/faults\[0\]\.code: expected a gRPC code name \(one of: Canceled, .*\) or number 1-16, got "Nope"/);
    expect(problems('[[faults]]\nmethod = "Start"\naction = "delay"\ndelay_ms = -5\n')).toEqual([`${FILE}: faults[0].delay_ms: expected a positive integer, got integer -5`]);
    expect(problems('[[faults]]\nmethod = "Start"\naction = "runtime-fail"\nstderr = "x"\n')).toEqual([`${FILE}: faults[0].action: runtime-fail needs a runtime match`]);
    expect(problems('[[faults]]\nruntime = "exec"\naction = "hang"\n')).toEqual([`${FILE}: faults[0].action: hang needs a method match: it waits for the call's deadline`]);
    expect(problems('[[faults]]\nmethod = "Start"\naction = "crash"\ncount = 1\nprobability = 0.5\n')).toEqual([`${FILE}: faults[0]: expected count or probability, not both`]);
    expect(problems('[[faults]]\nmethod = "Start"\naction = "crash"\nprobability = 2.0\n')).toEqual([`${FILE}: faults[0].probability: expected a number in (0, 1], got float 2`]);
    expect(problems('[[faults]]\nmethod = "Start"\naction = "delay"\ndelay_ms = 5\nmessage = "x"\n')).toEqual([`${FILE}: faults[0].message: not used by action "delay"`]);
    expect(problems('[[faults]]\nmethod = "Start"\naction = "explode"\n')[0]).toBe(`${FILE}: faults[0].action: expected one of error, delay, hang, crash, runtime-fail, got "explode"`);
  });

  it('refuses a relative trace dir or hooks module and an unknown hooks key', () => {
    expect(problems('[trace]\ndir = "trace"\n')).toEqual([`${FILE}: trace.dir: expected an absolute directory path, got "trace"`]);
    expect(problems('[hooks]\nmodule = "hooks.mjs"\n')).toEqual([`${FILE}: hooks.module: expected the absolute path of an ES module, got "hooks.mjs"`]);
    expect(problems('[hooks]\nmodule = "/h.mjs"\ntimeout = 5\n')).toEqual([`${FILE}: hooks.timeout: unknown key (expected one of: module, timeout_ms)`]);
    expect(parseConfig('[hooks]\nmodule = "/h.mjs"\n', FILE).config?.hooks).toEqual({ module: '/h.mjs', timeoutMs: 5000 });
  });
});
