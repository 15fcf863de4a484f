import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { groupKey, socketPath } from '../../../src/shim/socket-address.js';

describe('shim socket address', () => {
  it('is the sha256 of "<address>/<namespace>/<group>" like the reference shim, under the socket dir', () => {
    const expected = createHash('sha256').update('/run/containerd/containerd.sock/default/t1').digest('hex');
    expect(socketPath('/run/tsshim', '/run/containerd/containerd.sock', 'default', 't1')).toBe(`/run/tsshim/${expected}`);
  });

  it('stays well under the unix socket path limit', () => {
    expect(`unix://${socketPath('/run/tsshim', '/x'.repeat(200), 'ns', 'id')}`.length).toBeLessThan(108);
  });

  it('groups by the tsshim group annotation, then the runc one, then the pod sandbox id, else the task id', () => {
    expect(groupKey('t', { 'io.containerd.tsshim.v2.group': 'a', 'io.containerd.runc.v2.group': 'b' })).toBe('a');
    expect(groupKey('t', { 'io.containerd.runc.v2.group': 'b', 'io.kubernetes.cri.sandbox-id': 'c' })).toBe('b');
    expect(groupKey('t', { 'io.kubernetes.cri.sandbox-id': 'c' })).toBe('c');
    expect(groupKey('t', {})).toBe('t');
    expect(groupKey('t', undefined)).toBe('t');
  });

  it('with "task" grouping ignores the annotations; with "node" grouping puts every task in one group no task id can name', () => {
    const pod = { 'io.kubernetes.cri.sandbox-id': 'c' };
    expect(groupKey('t', pod, 'task')).toBe('t');
    expect(groupKey('t', pod, 'pod')).toBe('c');
    expect(groupKey('t', pod, 'node')).toBe(groupKey('other', undefined, 'node'));
    expect(groupKey('t', pod, 'node')).toMatch(/[^A-Za-z0-9._-]/);
  });
});
