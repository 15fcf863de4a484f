import { Code, StatusError, TtrpcClient, type CallOptions } from '../ttrpc/index.js';
import { NAMESPACE_KEY, TASK_METHODS, TASK_SERVICE_V2, TASK_SERVICE_V3 } from './task-api.js';

/** The Task API over the public ttrpc client, with messages as plain objects. */
export class TaskClient {
  private constructor(
    private readonly client: TtrpcClient,
    private service: string,
    private readonly namespace: string,
  ) {}

  /** `version` 3 (2.x's JSON start output) selects containerd.task.v3.Task. */
  static async connect(path: string, version: number, namespace: string): Promise<TaskClient> {
    const client = await TtrpcClient.connect(path, { connectTimeoutMs: 10_000 });
    return new TaskClient(client, version >= 3 ? TASK_SERVICE_V3 : TASK_SERVICE_V2, namespace);
  }

  /** Answers with the decoded response; a v3 name the shim lacks falls back to v2, as containerd 2.x does. */
  async call(method: string, request: object, opts: CallOptions = {}): Promise<Record<string, any>> {
    const types = TASK_METHODS[method];
    if (!types) throw new StatusError(Code.InvalidArgument, `unknown Task API method ${method} (one of: ${Object.keys(TASK_METHODS).join(', ')})`);
    const payload = types.req.encode(request).finish();
    const metadata = { [NAMESPACE_KEY]: this.namespace, ...(opts.metadata as Record<string, string> | undefined) };
    let reply: Uint8Array;
    try {
      reply = await this.client.call(this.service, method, payload, { ...opts, metadata });
    } catch (err) {
      if (!(err instanceof StatusError) || err.code !== Code.Unimplemented || this.service !== TASK_SERVICE_V3 || !/service/.test(err.message)) throw err;
      this.service = TASK_SERVICE_V2;
      reply = await this.client.call(this.service, method, payload, { ...opts, metadata });
    }
    return types.res.decode(reply) as Record<string, any>;
  }

  close(): void {
    this.client.close();
  }
}
