import { EventRecorder } from './event-recorder.js';

/** A standalone Events sink: serves Forward on `socket` and prints each event as a JSON line. */
export async function events(socket: string): Promise<number> {
  const sink = new EventRecorder((e) => process.stdout.write(`${JSON.stringify(e)}\n`));
  await sink.listen(socket);
  process.stderr.write(`tsshimctl: events served on ${socket}; set TTRPC_ADDRESS=${socket} for the shim\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sink.close();
  return 0;
}
