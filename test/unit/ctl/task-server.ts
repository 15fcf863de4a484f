// A Task API server with only State and Kill, for the tsshimctl client tests: records the
// service name and namespace of each call and answers Kill with NotFound.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerd, google } from '../../../src/api/gen/proto.js';
import { NAMESPACE_KEY } from '../../../src/ctl/task-api.js';
import { Code, StatusError, TtrpcServer, type CallContext, type ServiceDef } from '../../../src/ttrpc/index.js';

const T = containerd.task.v2;

export interface SeenCall {
  service: string;
  method: string;
  namespace: string[] | undefined;
  request: object;
}

export async function startTaskServer(services: string[]): Promise<{ socket: string; seen: SeenCall[]; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsshim-taskserver-'));
  const socket = join(dir, 'shim.sock');
  const seen: SeenCall[] = [];
  const server = new TtrpcServer();
  const record = (request: object, ctx: CallContext) =>
    seen.push({ service: ctx.service, method: ctx.method, namespace: ctx.metadata.get(NAMESPACE_KEY), request });
  const def: ServiceDef = {
    State: {
      decode: (b) => T.StateRequest.decode(b),
      encode: (r: containerd.task.v2.IStateResponse) => T.StateResponse.encode(r).finish(),
      handler: (req: containerd.task.v2.StateRequest, ctx: CallContext) => {
        record(req, ctx);
        return { id: req.id, execId: req.execId, pid: 42, status: containerd.v1.types.Status.RUNNING, bundle: '/b' };
      },
    },
    Kill: {
      decode: (b) => T.KillRequest.decode(b),
      encode: () => google.protobuf.Empty.encode({}).finish(),
      handler: (req: containerd.task.v2.KillRequest, ctx: CallContext) => {
        record(req, ctx);
        throw new StatusError(Code.NotFound, `process ${req.execId}: not found`);
      },
    },
  };
  for (const name of services) server.register(name, def);
  await server.listen({ path: socket });
  return {
    socket,
    seen,
    close: async () => {
      await server.shutdown({ graceMs: 1000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
