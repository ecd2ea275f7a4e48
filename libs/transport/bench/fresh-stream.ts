/**
 * How fast a fresh stream fills a long path (not a test): the in-memory link with a one-way
 * delay, a `MiB` transfer on a new stream of a new connection, repeated; prints the median
 * seconds and MB/s and the most bytes the sender had in flight. Stream credit and the
 * congestion window's start decide this, not CPU (the rate stays far below one core's).
 * Usage: node dist/bench/fresh-stream.js [MiB] [oneWayDelayMs] [runs] [initialStreamWindowBytes] [initialConnectionWindowBytes]
 */
import { once } from 'node:events';
import { Connection, createMemoryLinkPair, type TransportStream } from '../src/index.js';

const MIB = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
/** How often the sender's bytes in flight are sampled, in ms. */
const SAMPLE_INTERVAL_MS = 2;

async function once_(sizeMiB: number, delayMs: number, streamWindow: number | undefined, connectionWindow: number | undefined) {
  const [a, b] = createMemoryLinkPair({ delayMs, seed: 7 });
  const windows = {
    ...(streamWindow ? { initialStreamWindowBytes: streamWindow } : {}),
    ...(connectionWindow ? { initialConnectionWindowBytes: connectionWindow } : {}),
  };
  const client = new Connection(a, { role: 'client', ...windows });
  const server = new Connection(b, { role: 'server', ...windows });
  // Let the transport parameters cross first (a connection is set up once, streams many times).
  await new Promise((resolve) => setTimeout(resolve, 4 * delayMs + 10));
  let maxInFlight = 0;
  const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, client.stats().bytesInFlight)), SAMPLE_INTERVAL_MS);
  const size = sizeMiB * MIB;
  const received = new Promise<void>((resolve) => {
    server.once('stream', (stream: TransportStream) => {
      stream.on('error', () => undefined);
      stream.on('data', () => undefined);
      stream.once('end', () => resolve());
    });
  });
  const started = performance.now();
  const stream = client.openStream();
  stream.on('error', () => undefined);
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x61);
  for (let sent = 0; sent < size; sent += CHUNK_BYTES) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  await received;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  client.close();
  server.close();
  return { seconds, maxInFlight };
}

const args = process.argv.slice(2);
const sizeMiB = Number(args[0] ?? 8);
const delayMs = Number(args[1] ?? 10);
const runs = Number(args[2] ?? 5);
const streamWindow = args[3] ? Number(args[3]) : undefined;
const connectionWindow = args[4] ? Number(args[4]) : undefined;
const results = [];
for (let i = 0; i < runs; i++) results.push(await once_(sizeMiB, delayMs, streamWindow, connectionWindow));
results.sort((x, y) => x.seconds - y.seconds);
const median = results[Math.floor(results.length / 2)]!;
console.log(JSON.stringify({
  size_mib: sizeMiB,
  rtt_ms: 2 * delayMs,
  initial_stream_window_bytes: streamWindow ?? 'default',
  median_seconds: Number(median.seconds.toFixed(3)),
  median_mb_per_s: Number((sizeMiB * MIB / 1e6 / median.seconds).toFixed(1)),
  max_in_flight_bytes: Math.max(...results.map((r) => r.maxInFlight)),
}));
