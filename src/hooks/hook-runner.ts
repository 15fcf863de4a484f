import { pathToFileURL } from 'node:url';
import { Code, StatusError } from '../errors/index.js';
import type { HooksConfig } from '../runtime/config.js';
import type { TaskHooks } from '../task/task-hooks.js';
import type { Hooks } from './types.js';

export type HookName = keyof Hooks;
const HOOK_NAMES: HookName[] = ['beforeCreate', 'afterStart', 'onExit', 'beforeExec'];

export interface HookReport {
  hook: HookName;
  id: string;
  ms: number;
  error?: string;
}

const loaded = new Map<string, Promise<Hooks>>();

let dynamicImport: ((url: string) => Promise<Record<string, unknown>>) | undefined;

/**
 * `import()` of a user's module. The packaged daemon's code comes from a V8 start-up snapshot,
 * where an `import()` written in the bundle has no module loader behind it; a function compiled
 * now, with the main context's default loader, imports as any Node program would.
 */
function importModule(url: string): Promise<Record<string, unknown>> {
  if (!dynamicImport) {
    const vm = process.getBuiltinModule('node:vm');
    dynamicImport = new vm.Script('(url) => import(url)', {
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }).runInThisContext() as typeof dynamicImport;
  }
  return dynamicImport!(url);
}

/** Imports the module once per daemon; a module that cannot be imported fails every Create that names it. */
export function loadHooks(cfg: HooksConfig): Promise<Hooks> {
  let p = loaded.get(cfg.module);
  if (!p) {
    p = importModule(pathToFileURL(cfg.module).href).then(
      (m: Record<string, unknown>) => {
        const hooks: Hooks = {};
        for (const name of HOOK_NAMES) {
          const fn = m[name] ?? (m.default as Record<string, unknown> | undefined)?.[name];
          if (fn === undefined) continue;
          if (typeof fn !== 'function') throw new Error(`export ${name} is not a function`);
          (hooks as Record<string, unknown>)[name] = fn;
        }
        return hooks;
      },
    );
    loaded.set(cfg.module, p);
    // A failed import is retried at the next Create: the author may have fixed the file.
    p.catch(() => loaded.delete(cfg.module));
  }
  return p.catch((err: unknown) => {
    throw new StatusError(Code.FailedPrecondition, `hooks module ${cfg.module} cannot be loaded: ${(err as Error).message}`, { cause: err });
  });
}

/** The module's hooks as the task layer calls them: each under the deadline, errors naming the hook. */
export function taskHooks(hooks: Hooks, cfg: HooksConfig, namespace: string, report: (r: HookReport) => void): TaskHooks {
  const call = async <R>(name: HookName, id: string, arg: object): Promise<R | undefined> => {
    const fn = hooks[name] as ((a: object) => R | Promise<R>) | undefined;
    if (!fn) return undefined;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StatusError(Code.DeadlineExceeded, `hook ${name} (${cfg.module}) did not finish within ${cfg.timeoutMs} ms`)),
          cfg.timeoutMs,
        );
      });
      const result = await Promise.race([Promise.resolve().then(() => fn({ ...arg, namespace })), deadline]);
      report({ hook: name, id, ms: performance.now() - started });
      return result ?? undefined;
    } catch (err) {
      const failure = err instanceof StatusError ? err
        : new StatusError(Code.Unknown, `hook ${name} (${cfg.module}) failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      report({ hook: name, id, ms: performance.now() - started, error: failure.message });
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  };
  const asObject = (v: unknown, name: HookName): Record<string, unknown> | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new StatusError(Code.Unknown, `hook ${name} (${cfg.module}) returned ${typeof v}, expected an object or nothing`);
    return v as Record<string, unknown>;
  };
  return {
    beforeCreate: async (c) => {
      const r = await call<unknown>('beforeCreate', c.id, c);
      return asObject(r, 'beforeCreate') ?? (hooks.beforeCreate ? c.spec : undefined);
    },
    afterStart: async (c) => void (await call('afterStart', c.id, c)),
    onExit: async (c) => void (await call('onExit', c.id, c)),
    beforeExec: async (c) => {
      const r = await call<unknown>('beforeExec', c.id, c);
      return asObject(r, 'beforeExec') ?? (hooks.beforeExec ? c.process : undefined);
    },
  };
}
