import { describe, expect, it } from 'vitest';
import { anyTypeName, google, packAny, TypeUrls } from '../../../src/api/index.js';
import { hex, wire } from './wire-bytes.js';

describe('Any type URLs', () => {
  it('are packed bare, without a type.googleapis.com/ prefix', () => {
    const any = packAny(TypeUrls.TaskOOM, wire('0a 0a "viapublish"'));
    expect(hex(google.protobuf.Any.encode(any).finish()))
      .toBe(hex(wire('0a 19 "containerd.events.TaskOOM" 12 0c 0a 0a "viapublish"')));
  });

  it('compare equal whether a peer sent them bare or with a host prefix', () => {
    expect(anyTypeName({ typeUrl: 'type.googleapis.com/containerd.runc.v1.Options' })).toBe(TypeUrls.RuncOptions);
    expect(anyTypeName({ typeUrl: 'containerd.runc.v1.Options' })).toBe(TypeUrls.RuncOptions);
    expect(anyTypeName({ type_url: 'type.googleapis.com/io.containerd.cgroups.v2.Metrics' })).toBe(TypeUrls.CgroupsV2Metrics);
  });

  it('keep the whole URL of JSON payloads registered under types.containerd.io', () => {
    expect(anyTypeName({ typeUrl: TypeUrls.OciProcess })).toBe(TypeUrls.OciProcess);
    expect(anyTypeName({ typeUrl: TypeUrls.OciFeatures })).toBe(TypeUrls.OciFeatures);
    expect(anyTypeName({ typeUrl: TypeUrls.OciLinuxResources })).not.toBe(anyTypeName({ typeUrl: TypeUrls.OciProcess }));
  });

  it('name nothing when the Any has no type', () => {
    expect(anyTypeName({})).toBe('');
  });
});
