import type { google } from './gen/proto.js';

export interface AnyMsg {
  typeUrl: string;
  value: Uint8Array;
}

// Non-protobuf payloads (JSON) that containerd registers under an explicit URL: for these the
// whole URL is the type's identity, so no prefix may be stripped.
const JSON_TYPE_HOST = 'types.containerd.io/';

export const TypeUrls = {
  TaskCreate: 'containerd.events.TaskCreate',
  TaskStart: 'containerd.events.TaskStart',
  TaskExit: 'containerd.events.TaskExit',
  TaskDelete: 'containerd.events.TaskDelete',
  TaskOOM: 'containerd.events.TaskOOM',
  TaskExecAdded: 'containerd.events.TaskExecAdded',
  TaskExecStarted: 'containerd.events.TaskExecStarted',
  TaskPaused: 'containerd.events.TaskPaused',
  TaskResumed: 'containerd.events.TaskResumed',
  TaskCheckpointed: 'containerd.events.TaskCheckpointed',
  RuncOptions: 'containerd.runc.v1.Options',
  RuntimeOptions: 'runtimeoptions.v1.Options',
  LegacyRuncCreateOptions: 'containerd.linux.runc.CreateOptions',
  CheckpointOptions: 'containerd.runc.v1.CheckpointOptions',
  ProcessDetails: 'containerd.runc.v1.ProcessDetails',
  CgroupsV1Metrics: 'io.containerd.cgroups.v1.Metrics',
  CgroupsV2Metrics: 'io.containerd.cgroups.v2.Metrics',
  OciProcess: `${JSON_TYPE_HOST}opencontainers/runtime-spec/1/Process`,
  OciLinuxResources: `${JSON_TYPE_HOST}opencontainers/runtime-spec/1/LinuxResources`,
  OciFeatures: `${JSON_TYPE_HOST}opencontainers/runtime-spec/1/features/Features`,
} as const;

/**
 * Builds an Any with the URL exactly as given. containerd 1.6 subscribers cannot decode
 * `type.googleapis.com/…` URLs, so protobuf types must be passed as bare full names.
 */
export function packAny(typeUrl: string, value: Uint8Array): google.protobuf.IAny {
  return { typeUrl, value };
}

/**
 * The name to compare against `TypeUrls`: peers may send protobuf types with a
 * `type.googleapis.com/` (or any other `host/`) prefix, which is dropped here.
 */
export function anyTypeName(any: { typeUrl?: string | null; type_url?: string | null }): string {
  const url = any.typeUrl ?? any.type_url ?? '';
  if (url.startsWith(JSON_TYPE_HOST)) return url;
  return url.slice(url.lastIndexOf('/') + 1);
}
