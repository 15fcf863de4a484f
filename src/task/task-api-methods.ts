import { containerd } from '../api/gen/proto.js';
import type { MethodDef, ServiceDef } from '../ttrpc/index.js';
import type { TaskService } from './service.js';

const T = containerd.task.v2;

/** The names the Task API is served under; v2 and v3 carry identical messages. */
export const TASK_SERVICE_NAMES = ['containerd.task.v2.Task', 'containerd.task.v3.Task'];

/**
 * The ttrpc method table of the Task API: for each method, how its request is decoded, its
 * response encoded, and which TaskService method answers it. The service itself knows nothing
 * of the wire.
 */
export function taskMethods(service: TaskService): ServiceDef {
  const empty = (): Uint8Array => new Uint8Array(0);
  const m = <Req, Res>(
    type: { decode(b: Uint8Array): Req },
    enc: ((r: Res) => Uint8Array) | null,
    handler: (req: Req, signal: AbortSignal) => Promise<Res> | Res,
  ): MethodDef<Req, Res> => ({
    decode: (b) => type.decode(b),
    encode: enc ?? (empty as unknown as (r: Res) => Uint8Array),
    handler: (req, ctx) => handler(req, ctx.signal),
  });
  const enc = <Res>(type: { encode(r: Res): { finish(): Uint8Array } }) => (r: Res) => type.encode(r).finish();
  return {
    State: m(T.StateRequest, enc(T.StateResponse), (r) => service.state(r)),
    Create: m(T.CreateTaskRequest, enc(T.CreateTaskResponse), (r) => service.create(r)),
    Start: m(T.StartRequest, enc(T.StartResponse), (r) => service.start(r)),
    Delete: m(T.DeleteRequest, enc(T.DeleteResponse), (r) => service.delete(r)),
    Pids: m(T.PidsRequest, enc(T.PidsResponse), (r) => service.pids(r)),
    Pause: m(T.PauseRequest, null, (r) => service.pause(r)),
    Resume: m(T.ResumeRequest, null, (r) => service.resume(r)),
    Checkpoint: m(T.CheckpointTaskRequest, null, (r) => service.checkpoint(r)),
    Kill: m(T.KillRequest, null, (r) => service.kill(r)),
    Exec: m(T.ExecProcessRequest, null, (r) => service.exec(r)),
    ResizePty: m(T.ResizePtyRequest, null, (r) => service.resizePty(r)),
    CloseIO: m(T.CloseIORequest, null, (r) => service.closeIO(r)),
    Update: m(T.UpdateTaskRequest, null, (r) => service.update(r)),
    Wait: m(T.WaitRequest, enc(T.WaitResponse), (r, s) => service.wait(r, s)),
    Stats: m(T.StatsRequest, enc(T.StatsResponse), (r) => service.stats(r)),
    Connect: m(T.ConnectRequest, enc(T.ConnectResponse), (r) => service.connect(r)),
    Shutdown: m(T.ShutdownRequest, null, () => service.shutdown()),
  };
}
