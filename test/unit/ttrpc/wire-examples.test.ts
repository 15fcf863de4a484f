import Long from 'long';
import { describe, expect, it } from 'vitest';
import * as proto from '../../../src/api/gen/proto.js';
import { FrameDecoder, MessageType, encodeFrame } from '../../../src/ttrpc/index.js';

const { ttrpc } = proto;
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

function decodeOne(bytes: Buffer) {
  const items = [...new FrameDecoder().push(bytes)];
  expect(items).toHaveLength(1);
  const item = items[0]!;
  if (item.kind !== 'frame') throw new Error('expected a frame');
  return item;
}

// Spec §2.10: frames captured from containerd and the Go runc shim.
describe('wire examples from captured traffic', () => {
  it('A: a Task v2 Connect request encodes to the captured bytes and decodes back', () => {
    const expected = hex(
      '0000002800000003 0100 0a17636f6e7461696e6572642e7461736b2e76322e5461736b 1207436f6e6e656374 1a040a027432',
    );
    const payload = hex('0a02' + ascii('t2'));
    const data = ttrpc.Request.encode({ service: 'containerd.task.v2.Task', method: 'Connect', payload }).finish();
    expect(encodeFrame(3, MessageType.Request, 0, data)).toEqual(expected);

    const frame = decodeOne(expected);
    expect(frame).toMatchObject({ streamId: 3, type: MessageType.Request, flags: 0 });
    const req = ttrpc.Request.decode(frame.data);
    expect(req.service).toBe('containerd.task.v2.Task');
    expect(req.method).toBe('Connect');
    expect(Buffer.from(req.payload)).toEqual(payload);
  });

  it('B: a Connect response with payload and no status encodes to the captured bytes', () => {
    const expected = hex('00000008 00000003 02 00 12 06 08 ff 0a 10 a6 0b');
    const payload = hex('08ff0a10a60b'); // ConnectResponse{shim_pid 1407, task_pid 1446}
    expect(encodeFrame(3, MessageType.Response, 0, ttrpc.Response.encode({ payload }).finish())).toEqual(expected);

    const res = ttrpc.Response.decode(decodeOne(expected).data);
    expect(res.status).toBeFalsy();
    expect(Buffer.from(res.payload)).toEqual(payload);
  });

  it('C: metadata and a deadline encode as fields 5 and 4', () => {
    const metadata = hex('2a25 0a1a' + ascii('containerd-namespace-ttrpc') + '1207' + ascii('default'));
    const data = ttrpc.Request.encode({
      service: 'containerd.task.v2.Task',
      method: 'Connect',
      payload: hex('0a027031'),
      timeoutNano: Long.fromNumber(1_000_000_000),
      metadata: [{ key: 'containerd-namespace-ttrpc', value: 'default' }],
    }).finish();
    const tail = hex('1a040a027031' + '2080 94eb dc03') ;
    const expectedData = Buffer.concat([
      hex('0a17' + ascii('containerd.task.v2.Task') + '1207' + ascii('Connect')),
      tail,
      metadata,
    ]);
    expect(Buffer.from(data)).toEqual(expectedData);

    const req = ttrpc.Request.decode(decodeOne(encodeFrame(5, MessageType.Request, 0, data)).data);
    expect(BigInt(req.timeoutNano.toString())).toBe(1_000_000_000n);
    expect(req.metadata).toEqual([expect.objectContaining({ key: 'containerd-namespace-ttrpc', value: 'default' })]);
  });

  it('D: an error response carries only the status', () => {
    const expected = hex('00000026 00000009 02 00 0a24 0805 1220' + ascii('container not created: not found'));
    const data = ttrpc.Response.encode({ status: { code: 5, message: 'container not created: not found' } }).finish();
    expect(encodeFrame(9, MessageType.Response, 0, data)).toEqual(expected);

    const res = ttrpc.Response.decode(decodeOne(expected).data);
    expect(res.status?.code).toBe(5);
    expect(res.status?.message).toBe('container not created: not found');
    expect(res.payload.length).toBe(0);
  });

  it('E: an Empty reply is a zero-length Response frame', () => {
    const expected = hex('00000000 0000000b 02 00');
    expect(encodeFrame(11, MessageType.Response, 0, ttrpc.Response.encode({}).finish())).toEqual(expected);
    const frame = decodeOne(expected);
    expect(frame).toMatchObject({ streamId: 11, type: MessageType.Response, flags: 0 });
    expect(frame.data.length).toBe(0);
  });

  const events = (proto as any).containerd?.events?.TaskStart;
  const forward = (proto as any).containerd?.services?.events?.ttrpc?.v1?.ForwardRequest;
  it.runIf(events && forward)('F: a /tasks/start event publication encodes to the 179-byte frame', () => {
    const expected = hex(
      '000000b3 00000001 01 00' +
        '0a2a' + ascii('containerd.services.events.ttrpc.v1.Events') +
        '1207' + ascii('Forward') +
        '1a4f 0a4d' +
        '0a0c 0880e2cfaa06 1080cab5ee01' +
        '1207' + ascii('default') +
        '1a0c' + ascii('/tasks/start') +
        '2226 0a1b' + ascii('containerd.events.TaskStart') + '1207 0a02' + ascii('c1') + '10d209' +
        '2080e497d012' +
        '2a25 0a1a' + ascii('containerd-namespace-ttrpc') + '1207' + ascii('default'),
    );
    const taskStart = events.encode({ containerId: 'c1', pid: 1234 }).finish();
    const payload = forward
      .encode({
        envelope: {
          timestamp: { seconds: Long.fromNumber(1700000000), nanos: 500000000 },
          namespace: 'default',
          topic: '/tasks/start',
          event: { typeUrl: 'containerd.events.TaskStart', value: taskStart },
        },
      })
      .finish();
    const data = ttrpc.Request.encode({
      service: 'containerd.services.events.ttrpc.v1.Events',
      method: 'Forward',
      payload,
      timeoutNano: Long.fromNumber(5_000_000_000),
      metadata: [{ key: 'containerd-namespace-ttrpc', value: 'default' }],
    }).finish();
    expect(encodeFrame(1, MessageType.Request, 0, data)).toEqual(expected);
  });
});
