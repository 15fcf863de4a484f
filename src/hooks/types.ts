// Types for authors of a tsshim hooks module ([hooks] module = "/abs/path/hooks.mjs").
// `import type { Hooks } from 'tsshim/hooks'`. Every hook is optional and may be async; each runs
// with the deadline of [hooks] timeout_ms. A hook that throws or overruns fails the operation it
// belongs to (onExit: is only logged, the exit has happened) and the shim keeps serving.

/** An OCI runtime spec (config.json), as parsed JSON. */
export type OciSpec = Record<string, unknown> & {
  process?: OciProcess;
  annotations?: Record<string, string>;
};

/** An OCI `process` object. */
export type OciProcess = Record<string, unknown> & {
  args?: string[];
  env?: string[];
  cwd?: string;
  terminal?: boolean;
};

export interface BeforeCreateContext {
  /** Task id. */
  id: string;
  /** containerd namespace of the task. */
  namespace: string;
  bundle: string;
  /** The spec containerd wrote; change it in place or return a new one. */
  spec: OciSpec;
  annotations: Record<string, string>;
}

export interface AfterStartContext {
  id: string;
  namespace: string;
  pid: number;
}

export interface OnExitContext {
  id: string;
  namespace: string;
  /** Empty for the task's init process. */
  execId: string;
  status: number;
}

export interface BeforeExecContext {
  id: string;
  namespace: string;
  execId: string;
  /** The exec's process spec; change it in place or return a new one. */
  process: OciProcess;
}

export interface Hooks {
  /** Runs before the runtime's create; the spec it returns (or mutates) is the one created. */
  beforeCreate?(ctx: BeforeCreateContext): OciSpec | void | Promise<OciSpec | void>;
  afterStart?(ctx: AfterStartContext): void | Promise<void>;
  onExit?(ctx: OnExitContext): void | Promise<void>;
  /** Runs before the runtime's exec; the process it returns (or mutates) is the one executed. */
  beforeExec?(ctx: BeforeExecContext): OciProcess | void | Promise<OciProcess | void>;
}
