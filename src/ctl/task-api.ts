import { containerd, google } from '../api/gen/proto.js';

const T = containerd.task.v2;

interface MessageType {
  encode(m: object): { finish(): Uint8Array };
  decode(b: Uint8Array): object;
}

/** Request and response types of every Task API method (v2 and v3 share the wire layout). */
export const TASK_METHODS: Record<string, { req: MessageType; res: MessageType }> = {
  State: { req: T.StateRequest, res: T.StateResponse },
  Create: { req: T.CreateTaskRequest, res: T.CreateTaskResponse },
  Start: { req: T.StartRequest, res: T.StartResponse },
  Delete: { req: T.DeleteRequest, res: T.DeleteResponse },
  Pids: { req: T.PidsRequest, res: T.PidsResponse },
  Pause: { req: T.PauseRequest, res: google.protobuf.Empty },
  Resume: { req: T.ResumeRequest, res: google.protobuf.Empty },
  Checkpoint: { req: T.CheckpointTaskRequest, res: google.protobuf.Empty },
  Kill: { req: T.KillRequest, res: google.protobuf.Empty },
  Exec: { req: T.ExecProcessRequest, res: google.protobuf.Empty },
  ResizePty: { req: T.ResizePtyRequest, res: google.protobuf.Empty },
  CloseIO: { req: T.CloseIORequest, res: google.protobuf.Empty },
  Update: { req: T.UpdateTaskRequest, res: google.protobuf.Empty },
  Wait: { req: T.WaitRequest, res: T.WaitResponse },
  Stats: { req: T.StatsRequest, res: T.StatsResponse },
  Connect: { req: T.ConnectRequest, res: T.ConnectResponse },
  Shutdown: { req: T.ShutdownRequest, res: google.protobuf.Empty },
};

export const TASK_SERVICE_V2 = 'containerd.task.v2.Task';
export const TASK_SERVICE_V3 = 'containerd.task.v3.Task';
export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
export const NAMESPACE_KEY = 'containerd-namespace-ttrpc';

export { decodeEventAny, toJson } from '../api/event-json.js';
