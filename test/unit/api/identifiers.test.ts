import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { identifierProblem, validateIdentifier } from '../../../src/api/identifiers.js';
import { StatusError } from '../../../src/errors/index.js';

describe('containerd identifiers', () => {
  it.each(['a', 'A9', 'task-1', 'my_ctr.v2', 'a.b-c_d', 'x'.repeat(76), '0123abc'])('accepts %s', (id) => {
    expect(identifierProblem(id)).toBeUndefined();
  });

  it.each(['../../victim', '..', '.', '/abs', 'a/b', '-a', 'a-', 'a..b', 'a--b', 'a b', 'tab\t', 'nul\0x', 'ünï', '_a'])('refuses %j', (id) => {
    expect(identifierProblem(id)).toBe(`identifier ${JSON.stringify(id)} must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$`);
  });

  it('refuses an empty id and one longer than 76 characters, in containerd\'s words', () => {
    expect(identifierProblem('')).toBe('identifier must not be empty');
    expect(identifierProblem('x'.repeat(77))).toBe(`identifier "${'x'.repeat(77)}" greater than maximum length (76 characters)`);
  });

  it('validateIdentifier throws InvalidArgument with the errdefs suffix', () => {
    let err: unknown;
    try {
      validateIdentifier('exec id', '../e');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    expect(err).toMatchObject({ code: 3, message: expect.stringMatching(/^invalid exec id: identifier "\.\.\/e" must match .*: invalid argument$/) });
  });

  it('no accepted id can leave its directory or hide a separator', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (id) => {
        if (identifierProblem(id) !== undefined) return;
        expect(id).not.toMatch(/[/\0\s]/);
        expect(id).not.toMatch(/^\.|\.$|\.\./);
        expect(id.length).toBeGreaterThan(0);
        expect(id.length).toBeLessThanOrEqual(76);
      }),
    );
  });
});
