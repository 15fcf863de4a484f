import { EventSink } from './event-sink.js';

/** A standalone Events sink: serves Forward on `socket` and prints each event as a JSON line. */
export async function events(socket: string): Promise<number> {
  const sink = new EventSink((e) => process.stdout.write(`${JSON.stringify(e)}\n`));
  await sink.listen(socket);
  process.stderr.write(`tsshimctl: events served on ${socket}; set TTRPC_ADDRESS=${socket} for the shim\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sink.close();
  return 0;
}
