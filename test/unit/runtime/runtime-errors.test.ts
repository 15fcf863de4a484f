import { describe, expect, it } from 'vitest';
import { Code, StatusError } from '../../../src/errors/index.js';
import { RuntimeCommandError, isNotExist, isProcessAlreadyFinished } from '../../../src/runtime/runtime-errors.js';

function runtimeError(message: string): RuntimeCommandError {
  return new RuntimeCommandError(Code.Unknown, message, { exitCode: 1, argv: ['runc', 'kill', 'c1', '9'] });
}

describe('classifying runtime errors', () => {
  it.each([
    'process already finished',
    'container not running',
    'cannot signal container "c1": container is not running',
    'kill container: No such process',
    'ESRCH',
  ])('"%s" means the process already finished', (text) => {
    expect(isProcessAlreadyFinished(runtimeError(text))).toBe(true);
    expect(isNotExist(runtimeError(text))).toBe(false);
  });

  it.each([
    'container does not exist',
    'loading container: file does not exist',
    "cannot open directory '/run/crun/c1': No such file or directory",
    'error opening file `/run/crun/c1/status`: No such file or directory',
  ])('"%s" means the container does not exist', (text) => {
    expect(isNotExist(runtimeError(text))).toBe(true);
    expect(isProcessAlreadyFinished(runtimeError(text))).toBe(false);
  });

  it('a missing executable inside the container is neither', () => {
    const err = runtimeError('runc create failed: unable to start container process: exec: "sh": no such file or directory');
    expect(isNotExist(err)).toBe(false);
    expect(isProcessAlreadyFinished(err)).toBe(false);
  });

  it('a runtime error wrapped by a caller is still recognised through its cause', () => {
    const wrapped = new StatusError(Code.NotFound, 'no such container', { cause: runtimeError('container does not exist') });
    expect(isNotExist(wrapped)).toBe(true);
  });

  it('only the runtime\'s own words classify: other errors with the same text do not', () => {
    expect(isNotExist(new StatusError(Code.InvalidArgument, 'config file does not exist'))).toBe(false);
    expect(isProcessAlreadyFinished(new Error('no such process'))).toBe(false);
  });
});
