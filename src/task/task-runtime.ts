import type { RuntimeStdio } from '../io/process-io.js';

/**
 * What the task layer needs from an OCI runtime driver. Kept as an interface here so the task
 * logic is written against behaviour (and can be exercised without a runtime binary).
 */
export interface TaskRuntime {
  readonly name: string;
  create(o: { id: string; pidFile: string; consoleSocket?: string; noPivot?: boolean; noNewKeyring?: boolean; io: RuntimeStdio }): Promise<void>;
  /** `io`: the init's stdio again, for a runtime that attaches it at start (see waitInitExit). */
  start(id: string, io?: RuntimeStdio): Promise<void>;
  exec(o: { id: string; processJson: string; pidFile: string; consoleSocket?: string; io: RuntimeStdio }): Promise<void>;
  kill(id: string, signal: number, all?: boolean): Promise<void>;
  delete(id: string, opts?: { force?: boolean }): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  ps(id: string): Promise<number[]>;
  update(id: string, resourcesJson: string): Promise<void>;
  checkpoint(o: RuntimeCheckpoint): Promise<void>;
  restore(o: RuntimeRestore): Promise<void>;
  /**
   * Present when the container's init is no process the shim can reap: a gVisor pod's
   * application container runs inside the pod's sandbox, and its pid file names the sandbox.
   * Its exit then comes from here (resolves with the exit status once the init has exited),
   * and its stdio is handed to the runtime at start, not at create.
   */
  readonly waitInitExit?: (id: string) => Promise<number>;
}

/** containerd.runc.v1.CheckpointOptions in runtime terms (runc checkpoint flags). */
export interface RuntimeCheckpoint {
  id: string;
  imagePath: string;
  workPath: string;
  leaveRunning: boolean;
  tcpEstablished?: boolean;
  externalUnixSockets?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  cgroupsMode?: string;
  emptyNamespaces?: readonly string[];
}

export interface RuntimeRestore {
  id: string;
  imagePath: string;
  workPath?: string;
  parentPath?: string;
  pidFile: string;
  consoleSocket?: string;
  noPivot?: boolean;
  io: RuntimeStdio;
}

/** Runtime error classification, from the runtime's own error text (spec §3.3 Kill). */
export interface RuntimeErrorClassifier {
  isProcessAlreadyFinished(err: unknown): boolean;
  isNotExist(err: unknown): boolean;
}
