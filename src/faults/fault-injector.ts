import type { FaultRule } from '../runtime/config.js';
import type { RuntimeCommand } from '../runtime/dialects.js';

export type FaultTarget = { method: string } | { runtime: RuntimeCommand };

/**
 * The [[faults]] of one config, with the count each rule has left. The first rule that matches
 * the target and task id and fires (count left, probability drawn) is the fault to inject.
 */
export class FaultInjector {
  readonly #rules: readonly FaultRule[];
  readonly #left = new Map<number, number>();
  readonly #globs = new Map<number, RegExp>();

  constructor(rules: readonly FaultRule[], private readonly random: () => number = Math.random) {
    this.#rules = rules;
    for (const r of rules) {
      if (r.count !== undefined) this.#left.set(r.index, r.count);
      if (r.id !== undefined) this.#globs.set(r.index, globToRegExp(r.id));
    }
  }

  get empty(): boolean {
    return this.#rules.length === 0;
  }

  pick(target: FaultTarget, id: string | undefined): FaultRule | undefined {
    for (const rule of this.#rules) {
      if (!sameTarget(rule.target, target)) continue;
      const glob = this.#globs.get(rule.index);
      if (glob && !(id !== undefined && glob.test(id))) continue;
      const left = this.#left.get(rule.index);
      if (left === 0) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      if (left !== undefined) this.#left.set(rule.index, left - 1);
      return rule;
    }
    return undefined;
  }
}

function sameTarget(a: FaultRule['target'], b: FaultTarget): boolean {
  return 'method' in a ? 'method' in b && a.method === b.method : 'runtime' in b && a.runtime === b.runtime;
}

/** `*` any run of characters, `?` one character; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function describeAction(rule: FaultRule): string {
  const a = rule.action;
  switch (a.kind) {
    case 'error':
      return `error ${a.code}: ${a.message}`;
    case 'delay':
      return `delay ${a.ms} ms`;
    case 'runtime-fail':
      return `runtime fails: ${a.stderr}`;
    default:
      return a.kind;
  }
}
