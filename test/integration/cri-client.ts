// A CRI client (k8s.io/cri-api runtime.v1) over containerd's gRPC socket, as kubelet is one.
// The proto comes from Debian's golang-github-kubernetes-cri-api-dev, unpacked by
// scripts/install-deps.sh --containerd-releases into .cache/cri-api.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { cacheDir } from './harness/index.js';

export const CRI_PROTO = path.join(cacheDir(), 'cri-api/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto');

/**
 * api.proto imports gogo.proto only for Go code-generation options; without them the messages
 * and services are the same, and no second package is needed.
 */
export function stripGogo(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s*import\s+"github\.com\/gogo\/protobuf\/gogoproto\/gogo\.proto";/.test(l) && !/^\s*option\s+\(gogoproto\./.test(l))
    .join('\n')
    .replace(/\s*\[\s*\(gogoproto\.[^\]]*\]/g, '');
}

// Loaded once per test process: the proto has ~250 messages.
let definition: grpc.GrpcObject | undefined;

function criPackage(): grpc.GrpcObject {
  if (!definition) {
    if (!fs.existsSync(CRI_PROTO)) throw new Error(`${CRI_PROTO} is missing: run scripts/install-deps.sh --containerd-releases`);
    const root = protobuf.parse(stripGogo(fs.readFileSync(CRI_PROTO, 'utf8')), { keepCase: true }).root;
    const pkg = fromJSON(root.toJSON(), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    definition = grpc.loadPackageDefinition(pkg);
  }
  return definition;
}

/** A gRPC failure with its status code name, e.g. "NOT_FOUND", and containerd's message. */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${method}: ${grpc.status[code]}: ${details}`);
  }

  get codeName(): string {
    return grpc.status[this.code]!;
  }
}

// Messages are plain objects in the proto's field names; enums are their names as strings,
// int64 fields decimal strings.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

type Unary = (req: Msg, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Msg) => void) => void;

export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly image: grpc.Client;

  constructor(socket: string) {
    const v1 = (criPackage()['runtime'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
    const Runtime = v1['RuntimeService'] as grpc.ServiceClientConstructor;
    const Image = v1['ImageService'] as grpc.ServiceClientConstructor;
    // containerd's CRI replies can be large (ListContainerStats of many containers, big exec output).
    const options = { 'grpc.max_receive_message_length': 64 << 20 };
    this.runtime = new Runtime(`unix://${socket}`, grpc.credentials.createInsecure(), options);
    this.image = new Image(`unix://${socket}`, grpc.credentials.createInsecure(), options);
  }

  /** RuntimeService call; rejects with CriError. The default deadline is kubelet's runtime request timeout (2 min). */
  call(method: string, req: Msg = {}, timeoutMs = 120_000): Promise<Msg> {
    return this.invoke(this.runtime, method, req, timeoutMs);
  }

  imageCall(method: string, req: Msg = {}, timeoutMs = 120_000): Promise<Msg> {
    return this.invoke(this.image, method, req, timeoutMs);
  }

  private invoke(client: grpc.Client, method: string, req: Msg, timeoutMs: number): Promise<Msg> {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (typeof fn !== 'function') throw new Error(`no CRI method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new CriError(method, err.code, err.details));
        else resolve(res);
      });
    });
  }

  /** The error a call fails with; throws if it succeeds. */
  async failure(method: string, req: Msg, timeoutMs?: number): Promise<CriError> {
    try {
      await this.call(method, req, timeoutMs);
    } catch (err) {
      if (err instanceof CriError) return err;
      throw err;
    }
    throw new Error(`${method} succeeded`);
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}
