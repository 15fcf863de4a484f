/**
 * User code run at a few points of a task's life (the [hooks] module). The shim layer supplies
 * it with deadlines and error wording; a rejection fails the operation with that error.
 */
export interface TaskHooks {
  /** Resolves to the spec to create, or undefined to keep it. */
  beforeCreate(ctx: { id: string; bundle: string; spec: Record<string, unknown>; annotations: Record<string, string> }): Promise<Record<string, unknown> | undefined>;
  afterStart(ctx: { id: string; pid: number }): Promise<void>;
  onExit(ctx: { id: string; execId: string; status: number }): Promise<void>;
  /** Resolves to the process spec to exec, or undefined to keep it. */
  beforeExec(ctx: { id: string; execId: string; process: Record<string, unknown> }): Promise<Record<string, unknown> | undefined>;
}
