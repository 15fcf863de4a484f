import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containerd } from '../../../src/api/gen/proto.js';
import { EventRecorder, type RecordedEvent } from '../../../src/ctl/event-recorder.js';
import { EVENTS_SERVICE } from '../../../src/ctl/task-api.js';
import { TtrpcClient } from '../../../src/ttrpc/index.js';

const ForwardRequest = containerd.services.events.ttrpc.v1.ForwardRequest;

function forward(topic: string, pid: number): Uint8Array {
  return ForwardRequest.encode({
    envelope: {
      timestamp: { seconds: 1_700_000_000, nanos: 5_000_000 },
      namespace: 'default',
      topic,
      event: { typeUrl: 'containerd.events.TaskStart', value: containerd.events.TaskStart.encode({ containerId: 'c', pid }).finish() },
    },
  }).finish();
}

describe('EventRecorder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-recorder-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers Forward, records the decoded envelope and hands it to onEvent', async () => {
    const seen: RecordedEvent[] = [];
    const recorder = new EventRecorder((e) => seen.push(e));
    const path = join(dir, 'events.sock');
    await recorder.listen(path);
    const client = await TtrpcClient.connect(path);
    try {
      const reply = await client.call(EVENTS_SERVICE, 'Forward', forward('/tasks/start', 99));
      expect(reply).toHaveLength(0);
      const expected = { topic: '/tasks/start', namespace: 'default', timestamp: '2023-11-14T22:13:20.005Z', event: { containerId: 'c', pid: 99 } };
      expect(recorder.events).toEqual([expected]);
      expect(seen).toEqual([expected]);
      expect(await recorder.waitFor((e) => e.topic === '/tasks/start', 1000)).toBe(true);
    } finally {
      client.close();
      await recorder.close();
    }
    expect(existsSync(path)).toBe(false);
  });

  it('waitFor gives false when no matching event arrives', async () => {
    const recorder = new EventRecorder();
    expect(await recorder.waitFor((e) => e.topic === '/tasks/exit', 50)).toBe(false);
  });
});
