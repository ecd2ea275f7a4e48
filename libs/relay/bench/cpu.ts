/**
 * CPU cost of the relay per request and per MiB, per process, over a real nats-server on loopback
 * (a script, not a test):
 *   node dist/bench/cpu.js [--requests N] [--c1-requests N] [--concurrency N] [--mib N] [--runs N] [--only TEXT]
 *
 * Three processes, as in production: this one is the ingress (RelayClient), a child process is
 * the hub (RelayServer), and nats-server from libs/testkit runs on a random loopback port. CPU is
 * user + system time read from /proc/<pid>/stat for each of the three (clock ticks, 10 ms), taken
 * before and after each workload; wall time is printed for information only (the machine is shared).
 *
 * "NATS msgs" counts the messages the ingress's connection sent and received, per request or MiB.
 * Workloads: GET-like requests (a ~200-byte head, no request body, a ~100-byte response head and
 * a 1 KiB response body) one at a time (c=1) and --concurrency at once; then one --mib MiB
 * download (hub writes 60 KiB chunks; the real hub writes what each read of datagrams delivers, and
 * the relay stream joins such writes into chunk-sized DATA frames) and one upload (ingress writes
 * 64 KiB chunks, as an HTTP request body arrives). Each workload runs once to warm up first.
 * With --runs N each figure is the median of N runs.
 * Profile with node --cpu-prof --cpu-prof-dir=DIR dist/bench/cpu.js --only ...: the hub inherits the flags (fork).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsSubjects } from '@hopgate/keys';
import { startNats } from '@hopgate/testkit';
import { RelayClient, RelayServer, type RelayClientStream, type RelayServerStream } from '../src/index.js';

const MIB = 1024 * 1024;
const KIB = 1024;
const RESPONSE_BODY_BYTES = KIB;
const DOWNLOAD_WRITE_BYTES = 60 * KIB;
const UPLOAD_WRITE_BYTES = 64 * KIB;
/** Clock ticks per second of /proc/<pid>/stat utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;
const SUBJECT_PREFIX = 'bench';
const HUB_ID = 'hub';

const REQUEST_HEAD = Buffer.from(
  `GET /items/42?view=full HTTP/1.1\r\nhost: app.example.test\r\nuser-agent: bench/1.0\r\naccept: */*\r\nx-request-id: 0123456789abcdef\r\naccept-encoding: gzip\r\n\r\n`,
);
const RESPONSE_HEAD = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 1024\r\n\r\n');

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

interface Sample {
  wallS: number;
  /** NATS messages the ingress connection sent and received (every relay message goes one of these ways). */
  messages: number;
  ingressS: number;
  hubS: number;
  natsS: number;
}

async function sample(pids: { hub: number; nats: number }, nc: NatsConnection, run: () => Promise<unknown>): Promise<Sample> {
  const messagesBefore = nc.stats().inMsgs + nc.stats().outMsgs;
  const before = { ingress: cpuSeconds(process.pid), hub: cpuSeconds(pids.hub), nats: cpuSeconds(pids.nats) };
  const started = process.hrtime.bigint();
  await run();
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  // Let the hub finish its last turn (its END went out before ours came in).
  await new Promise((resolve) => setTimeout(resolve, 20));
  return {
    wallS,
    messages: nc.stats().inMsgs + nc.stats().outMsgs - messagesBefore,
    ingressS: cpuSeconds(process.pid) - before.ingress,
    hubS: cpuSeconds(pids.hub) - before.hub,
    natsS: cpuSeconds(pids.nats) - before.nats,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function writeBytes(stream: RelayClientStream | RelayServerStream, total: number, pieceBytes: number): Promise<void> {
  const piece = Buffer.alloc(pieceBytes, 0x5a);
  for (let left = total; left > 0; left -= piece.length) {
    if (!stream.write(left >= piece.length ? piece : piece.subarray(0, left))) await once(stream, 'drain');
  }
  stream.end();
}

function countBytes(stream: RelayClientStream | RelayServerStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.once('end', () => resolve(bytes));
    stream.once('error', reject);
  });
}

/** The hub: head "get" answers 1 KiB; "download N" answers N bytes; "upload" answers the count it read. */
async function hub(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  const server = new RelayServer({ nc, subjects: new NatsSubjects(SUBJECT_PREFIX), hubId: HUB_ID });
  const body = Buffer.alloc(RESPONSE_BODY_BYTES, 0x61);
  server.on('open', (stream) => {
    const head = Buffer.from(stream.head);
    if (head[0] === 0x47 /* G */) {
      stream.respond(RESPONSE_HEAD);
      stream.resume();
      stream.end(body);
      return;
    }
    const [verb, size] = head.toString().split(' ');
    if (verb === 'download') {
      stream.respond(RESPONSE_HEAD);
      stream.resume();
      void writeBytes(stream, Number(size), DOWNLOAD_WRITE_BYTES);
    } else {
      stream.accept();
      void countBytes(stream).then((bytes) => {
        stream.respond(Buffer.from(String(bytes)));
        stream.end();
      });
    }
  });
  await server.start();
  process.send?.('ready');
  await once(process, 'message');
  await server.close();
  await nc.close();
  process.disconnect();
}

async function get(client: RelayClient): Promise<void> {
  const stream = client.open(HUB_ID, REQUEST_HEAD);
  stream.end();
  const [bytes] = await Promise.all([countBytes(stream), once(stream, 'response')]);
  if (bytes !== RESPONSE_BODY_BYTES) throw new Error(`GET answered ${bytes} bytes`);
}

async function gets(client: RelayClient, total: number, concurrency: number): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started += 1;
      await get(client);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function transfer(client: RelayClient, direction: 'download' | 'upload', bytes: number): Promise<void> {
  const stream = client.open(HUB_ID, Buffer.from(direction === 'download' ? `download ${bytes}` : 'upload'));
  if (direction === 'download') {
    stream.end();
    const got = await countBytes(stream);
    if (got !== bytes) throw new Error(`downloaded ${got} of ${bytes}`);
    return;
  }
  const [[head]] = await Promise.all([once(stream, 'response'), writeBytes(stream, bytes, UPLOAD_WRITE_BYTES)]);
  const got = Number(Buffer.from(head as Uint8Array).toString());
  await countBytes(stream);
  if (got !== bytes) throw new Error(`uploaded ${got} of ${bytes}`);
}

interface Workload {
  label: string;
  /** Per request (us) or per MiB (ms). */
  unit: 'request' | 'MiB';
  count: number;
  run(): Promise<unknown>;
}

function format(label: string, unit: Workload['unit'], count: number, samples: Sample[]): string {
  const per = (pick: (s: Sample) => number): string => {
    const value = median(samples.map(pick)) / count;
    return (unit === 'request' ? value * 1e6 : value * 1e3).toFixed(unit === 'request' ? 0 : 2).padStart(9);
  };
  const total = (s: Sample): number => s.ingressS + s.hubS + s.natsS;
  const rate = count / median(samples.map((s) => s.wallS));
  const rateText = unit === 'request' ? `${rate.toFixed(0)} req/s` : `${((rate * MIB) / 1e6).toFixed(0)} MB/s`;
  const messages = (median(samples.map((s) => s.messages)) / count).toFixed(unit === 'request' ? 2 : 1).padStart(8);
  return `${label.padEnd(22)} ${per((s) => s.ingressS)} ${per((s) => s.hubS)} ${per((s) => s.natsS)} ${per(total)} ${messages}   ${rateText} (wall, shared machine)`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '20000' },
      'c1-requests': { type: 'string', default: '3000' },
      concurrency: { type: 'string', default: '64' },
      mib: { type: 'string', default: '100' },
      runs: { type: 'string', default: '3' },
      /** Only the workloads whose label contains this (e.g. c=64, download): for profiles. */
      only: { type: 'string', default: '' },
    },
  });
  const requests = Number(values.requests);
  const c1Requests = Number(values['c1-requests']);
  const concurrency = Number(values.concurrency);
  const mib = Number(values.mib);
  const runs = Number(values.runs);
  const nats = await startNats();
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['hub', nats.url], { stdio: 'inherit' });
  try {
    await once(child, 'message');
    const nc = await connect({ servers: nats.url });
    const client = new RelayClient({ nc, subjects: new NatsSubjects(SUBJECT_PREFIX), ingressId: 'ing' });
    await client.start();
    const pids = { hub: child.pid!, nats: nats.process.pid! };
    const workloads: Workload[] = [
      { label: 'GET 1 KiB c=1', unit: 'request', count: c1Requests, run: () => gets(client, c1Requests, 1) },
      { label: `GET 1 KiB c=${concurrency}`, unit: 'request', count: requests, run: () => gets(client, requests, concurrency) },
      { label: `download ${mib} MiB`, unit: 'MiB', count: mib, run: () => transfer(client, 'download', mib * MIB) },
      { label: `upload ${mib} MiB`, unit: 'MiB', count: mib, run: () => transfer(client, 'upload', mib * MIB) },
    ];
    console.log(`CPU per request (us) or per MiB (ms), median of ${runs} runs, from /proc/<pid>/stat`);
    console.log(`${'workload'.padEnd(22)} ${'ingress'.padStart(9)} ${'hub'.padStart(9)} ${'nats'.padStart(9)} ${'total'.padStart(9)} ${'NATS msgs'.padStart(8)}`);
    for (const workload of workloads.filter((w) => w.label.includes(values.only))) {
      await workload.run(); // warm-up
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i += 1) samples.push(await sample(pids, nc, workload.run));
      console.log(format(workload.label, workload.unit, workload.count, samples));
    }
    await client.close();
    await nc.close();
    child.send('stop');
    await once(child, 'exit');
  } finally {
    if (child.exitCode === null) child.kill();
    await nats.stop();
  }
}

if (process.argv[2] === 'hub') await hub(process.argv[3]!);
else await main();
