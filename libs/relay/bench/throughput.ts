/**
 * Throughput of the relay over a real nats-server on loopback (a script, not a test):
 *   node dist/bench/throughput.js [--chunk BYTES] [--window-chunks N] [--streams N] [--mib N] [--each-mib N]
 * The hub runs in a worker thread (its own event loop and NATS connection, like a separate process).
 * Reports one --mib (100) MiB download and upload, then --streams (16) streams of --each-mib (32) MiB
 * together. "node cpu" is the whole process (ingress and hub threads), in % of one core.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { connect } from '@nats-io/transport-node';
import { NatsSubjects } from '@hopgate/keys';
import { startNats } from '@hopgate/testkit';
import { DEFAULT_CHUNK_BYTES, DEFAULT_WINDOW_CHUNKS, RelayClient, RelayServer, type RelayClientStream, type RelayServerStream } from '../src/index.js';

const MIB = 1024 * 1024;
const WRITE_BUFFER_BYTES = MIB;
/** Bytes moved each way before measuring, so that JIT and buffer growth are out of the figures. */
const WARM_UP_BYTES = 64 * MIB;

interface BenchConfig {
  url: string;
  chunkBytes: number;
  windowBytes: number;
}

async function writeBytes(stream: RelayClientStream | RelayServerStream, total: number): Promise<void> {
  const buffer = Buffer.alloc(WRITE_BUFFER_BYTES, 0x5a);
  for (let left = total; left > 0; left -= buffer.length) {
    if (!stream.write(left >= buffer.length ? buffer : buffer.subarray(0, left))) await once(stream, 'drain');
  }
  stream.end();
}

async function countBytes(stream: RelayClientStream | RelayServerStream): Promise<number> {
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await once(stream, 'end');
  return bytes;
}

/** Hub: "download N" answers N bytes; "upload" answers with the byte count it read. */
async function hub(config: BenchConfig): Promise<void> {
  const nc = await connect({ servers: config.url });
  const server = new RelayServer({ nc, subjects: new NatsSubjects('bench'), hubId: 'hub', chunkBytes: config.chunkBytes, windowBytes: config.windowBytes });
  server.on('open', (stream) => {
    const [verb, size] = Buffer.from(stream.head).toString().split(' ');
    if (verb === 'download') {
      stream.respond(Buffer.from('ok'));
      stream.resume();
      void writeBytes(stream, Number(size));
    } else {
      stream.accept();
      void countBytes(stream).then((bytes) => {
        stream.respond(Buffer.from(String(bytes)));
        stream.end();
      });
    }
  });
  await server.start();
  parentPort?.postMessage('ready');
  await once(parentPort!, 'message');
  await server.close();
  await nc.close();
}

async function transfer(client: RelayClient, direction: 'download' | 'upload', bytes: number): Promise<void> {
  const stream = client.open('hub', Buffer.from(direction === 'download' ? `download ${bytes}` : 'upload'));
  if (direction === 'download') {
    stream.end();
    const got = await countBytes(stream);
    if (got !== bytes) throw new Error(`downloaded ${got} of ${bytes}`);
  } else {
    const [[head]] = await Promise.all([once(stream, 'response'), writeBytes(stream, bytes)]);
    const got = Number(Buffer.from(head as Uint8Array).toString());
    stream.resume();
    await once(stream, 'end');
    if (got !== bytes) throw new Error(`uploaded ${got} of ${bytes}`);
  }
}

async function measure(label: string, totalBytes: number, run: () => Promise<unknown>): Promise<void> {
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const mbps = totalBytes / seconds / 1e6;
  console.log(`${label.padEnd(32)} ${(totalBytes / MIB).toFixed(0).padStart(5)} MiB  ${seconds.toFixed(2).padStart(6)} s  ${mbps.toFixed(0).padStart(5)} MB/s  node cpu ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)}%`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      chunk: { type: 'string', default: String(DEFAULT_CHUNK_BYTES) },
      'window-chunks': { type: 'string', default: String(DEFAULT_WINDOW_CHUNKS) },
      streams: { type: 'string', default: '16' },
      mib: { type: 'string', default: '100' },
      'each-mib': { type: 'string', default: '32' },
    },
  });
  const chunkBytes = Number(values.chunk);
  const windowBytes = chunkBytes * Number(values['window-chunks']);
  const streams = Number(values.streams);
  const bytes = Number(values.mib) * MIB;
  const nats = await startNats();
  const config: BenchConfig = { url: nats.url, chunkBytes, windowBytes };
  const worker = new Worker(new URL(import.meta.url), { workerData: config });
  try {
    await once(worker, 'message');
    const nc = await connect({ servers: nats.url });
    const client = new RelayClient({ nc, subjects: new NatsSubjects('bench'), ingressId: 'ing', chunkBytes, windowBytes });
    await client.start();
    console.log(`chunk ${chunkBytes} B, window ${windowBytes} B (${values['window-chunks']} chunks), nats-server ${nats.url}`);
    await transfer(client, 'download', WARM_UP_BYTES);
    await transfer(client, 'upload', WARM_UP_BYTES);
    await measure('1 stream download', bytes, () => transfer(client, 'download', bytes));
    await measure('1 stream upload', bytes, () => transfer(client, 'upload', bytes));
    const each = Number(values['each-mib']) * MIB;
    await measure(`${streams} streams download together`, each * streams, () =>
      Promise.all(Array.from({ length: streams }, () => transfer(client, 'download', each))));
    await measure(`${streams} streams upload together`, each * streams, () =>
      Promise.all(Array.from({ length: streams }, () => transfer(client, 'upload', each))));
    await client.close();
    await nc.close();
    worker.postMessage('stop');
    await once(worker, 'exit');
  } finally {
    await worker.terminate();
    await nats.stop();
  }
}

if (isMainThread) await main();
else await hub(workerData as BenchConfig);
