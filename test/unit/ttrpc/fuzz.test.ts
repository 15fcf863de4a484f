import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, TtrpcClient, TtrpcServer } from '../../../src/ttrpc/index.js';
import type { FrameSink } from '../../../src/ttrpc/frame-sink.js';
import { DEFAULT_LIMITS, ServerConnection } from '../../../src/ttrpc/server-connection.js';
import { ServiceRegistry } from '../../../src/ttrpc/service.js';
import { FUZZ_SERVICE, type Reply, expectedReplies, fuzzInput, fuzzService, materialize, replyKey } from './fuzz-model.js';
import { RawPeer, decodeResponse, tempDir, type TempDir } from './helpers.js';

// Case counts: ≥100 000 in total by default; FUZZ_SCALE scales them (e.g. 0.1 while iterating).
const scale = Number(process.env.FUZZ_SCALE ?? 1);
const IN_PROCESS_RUNS = Math.round(80_000 * scale);
const SOCKET_RUNS = Math.round(20_000 * scale);

const sorted = (replies: Reply[]) => replies.map(replyKey).sort();

function toReplies(frames: Buffer[]): Reply[] {
  const decoder = new FrameDecoder();
  return frames.flatMap((f) =>
    [...decoder.push(f)].map((item) => {
      const r = decodeResponse(item);
      return { streamId: r.streamId, code: r.code, message: r.message, payload: r.payload.toString('hex') };
    }),
  );
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('server robustness under arbitrary input', () => {
  it(`answers exactly as the reference model, in process, for ${IN_PROCESS_RUNS} byte streams`, async () => {
    const registry = new ServiceRegistry();
    const holds: AbortSignal[] = [];
    registry.register(FUZZ_SERVICE, fuzzService((signal) => holds.push(signal)));
    await fc.assert(
      fc.asyncProperty(fuzzInput(true), async (input) => {
        const { stream, chunks } = materialize(input);
        const expected = expectedReplies(stream);
        fc.pre(expected !== 'ambiguous');
        holds.length = 0;
        const written: Buffer[] = [];
        let destroyed = false;
        const sink: FrameSink = {
          write: (frame) => written.push(frame),
          bufferedBytes: 0,
          end: () => (destroyed = true),
          destroy: () => (destroyed = true),
        };
        const errors: unknown[] = [];
        const connection = new ServerConnection(registry, sink, DEFAULT_LIMITS, (e) => errors.push(e));
        for (const chunk of chunks) connection.receive(chunk);
        await settle();
        expect(sorted(toReplies(written))).toEqual(sorted(expected.replies));
        expect(holds).toHaveLength(expected.holds);
        expect(destroyed).toBe(false);
        expect(errors).toEqual([]);

        const before = written.length;
        connection.abandon();
        await settle();
        expect(connection.inFlight).toBe(0);
        expect(holds.every((s) => s.aborted)).toBe(true);
        expect(written.length).toBe(before);
      }),
      { numRuns: IN_PROCESS_RUNS },
    );
  }, 300_000 * Math.max(1, scale));

  describe('over a real unix socket', () => {
    let dir: TempDir;
    let server: TtrpcServer;
    let path: string;
    let control: TtrpcClient;
    const holds: AbortSignal[] = [];
    const errors: unknown[] = [];

    beforeAll(async () => {
      dir = tempDir();
      path = dir.socket();
      server = new TtrpcServer({ onError: (e) => errors.push(e) });
      server.register(FUZZ_SERVICE, fuzzService((signal) => holds.push(signal)));
      await server.listen({ path });
      control = await TtrpcClient.connect(path);
    });

    afterAll(async () => {
      control.close();
      await server.shutdown({ graceMs: 0 });
      dir.remove();
    });

    it(`answers as the model for ${SOCKET_RUNS} streams while a second connection keeps working`, async () => {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fuzzInput(false), async (input) => {
          const { stream, chunks } = materialize(input);
          const expected = expectedReplies(stream);
          fc.pre(expected !== 'ambiguous');
          holds.length = 0;
          const peer = await RawPeer.connect(path);
          for (const chunk of chunks) peer.write(chunk);
          const deadline = setTimeout(() => peer.socket.destroy(), 3_000);
          const got = await peer.waitFor(expected.replies.length);
          clearTimeout(deadline);
          // A round trip on the other connection: the server is still serving it, and any reply
          // beyond the model's would have had time to show up.
          const tag = Buffer.from(`round-${round++}`);
          expect(Buffer.from(await control.call(FUZZ_SERVICE, 'Echo', tag)).equals(tag)).toBe(true);
          const replies = got.map((r) => ({ streamId: r.streamId, code: r.code, message: r.message, payload: r.payload.toString('hex') }));
          expect(sorted(replies)).toEqual(sorted(expected.replies));
          expect(peer.closed).toBe(false);

          await peer.close();
          while (server.connectionCount !== 1 || holds.some((s) => !s.aborted)) await settle();
        }),
        { numRuns: SOCKET_RUNS },
      );
      expect(errors).toEqual([]);
      expect(control.closed).toBe(false);
    }, 300_000 * Math.max(1, scale));
  });
});
