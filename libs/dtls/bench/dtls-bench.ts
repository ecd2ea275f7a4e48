/**
 * One-off DTLS measurements (not a test): handshake time, one-way throughput with 1,100 B
 * records in each direction, 100 B ping-pong latency. The hub runs in a child process, the
 * agent in this one, over loopback. Sending is window-paced by receiver acks (64 records in
 * flight), as the stream layer paces; unpaced UDP loses datagrams even on loopback.
 *
 *   node dist/bench/dtls-bench.js
 *
 * DTLS_BENCH_RECORDS overrides the record count of each throughput direction (`npm run bench`
 * uses fewer to stay short).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { DtlsHubServer, connectDtls, type DtlsServerLink } from '../src/index.js';
import { makeTestPki, TEST_SERVER_NAME } from '../test-support/certs.js';

const RECORD_BYTES = 1_100;
const DEFAULT_THROUGHPUT_RECORDS = 100_000;
const THROUGHPUT_RECORDS = positiveInt(process.env.DTLS_BENCH_RECORDS) ?? DEFAULT_THROUGHPUT_RECORDS;
const WINDOW_RECORDS = 64;
const ACK_EVERY_RECORDS = 16;
const STALL_MS = 20;
const PING_BYTES = 100;
const PINGS = 5_000;
const HANDSHAKES = 20;

function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`DTLS_BENCH_RECORDS must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/** Message kinds inside the datagrams (first byte). */
const Kind = { Data: 1, Ack: 2, Ping: 3, StartSend: 4 } as const;

interface Link {
  send(datagram: Uint8Array): void;
}

/** Sends `count` records paced by acks; `done` resolves with the elapsed time in ms. */
function pacedSender(link: Link, count: number): { onAck(datagram: Buffer): void; done: Promise<number> } {
  let sent = 0;
  let acked = 0;
  let lastProgress = Date.now();
  let finish: (ms: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const start = process.hrtime.bigint();
  const payload = Buffer.alloc(RECORD_BYTES, 7);
  payload[0] = Kind.Data;
  const pump = (): void => {
    while (sent < count && sent - acked < WINDOW_RECORDS) {
      payload.writeUInt32BE(sent, 1);
      link.send(payload);
      sent += 1;
    }
  };
  // A lost datagram or ack: count the window as delivered-or-lost and carry on.
  const stall = setInterval(() => {
    if (Date.now() - lastProgress > STALL_MS) {
      acked = sent;
      lastProgress = Date.now();
      pump();
    }
  }, STALL_MS);
  pump();
  return {
    done,
    onAck: (datagram) => {
      const received = datagram.readUInt32BE(1);
      if (received > acked) {
        acked = received;
        lastProgress = Date.now();
      }
      if (acked >= count) {
        clearInterval(stall);
        finish(Number(process.hrtime.bigint() - start) / 1e6);
        return;
      }
      pump();
    },
  };
}

/** Receiver side: acks every ACK_EVERY_RECORDS records and the last one; `done` gets the count seen. */
function ackingReceiver(link: Link, count: number, done: (received: number) => void): (datagram: Buffer) => void {
  let received = 0;
  const ack = Buffer.alloc(5);
  ack[0] = Kind.Ack;
  return (datagram) => {
    received += 1;
    const seq = datagram.readUInt32BE(1);
    if (received % ACK_EVERY_RECORDS === 0 || seq === count - 1) {
      ack.writeUInt32BE(seq === count - 1 ? count : received, 1);
      link.send(ack);
    }
    if (seq === count - 1) done(received);
  };
}

async function hubMain(): Promise<void> {
  const { certPem, keyPem } = JSON.parse(process.argv[3] ?? '{}') as { certPem: string; keyPem: string };
  const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem, keyPem });
  hub.on('session', (link: DtlsServerLink) => {
    let receiver: ((datagram: Buffer) => void) | undefined;
    let sender: ReturnType<typeof pacedSender> | undefined;
    link.onDatagram((datagram) => {
      const buf = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
      if (buf[0] === Kind.Ping) link.send(buf);
      else if (buf[0] === Kind.Data) {
        receiver ??= ackingReceiver(link, THROUGHPUT_RECORDS, (received) => process.send?.({ kind: 'received', received }));
        receiver(buf);
      } else if (buf[0] === Kind.StartSend) sender = pacedSender(link, THROUGHPUT_RECORDS);
      else if (buf[0] === Kind.Ack) sender?.onAck(buf);
    });
  });
  process.send?.({ kind: 'port', port: hub.address().port });
  process.on('disconnect', () => void hub.close());
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function agentMain(): Promise<void> {
  const pki = makeTestPki();
  const child = fork(fileURLToPath(import.meta.url), ['--hub', JSON.stringify({ certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem })]);
  const [ready] = (await once(child, 'message')) as [{ port: number }];
  const options = { host: '127.0.0.1', port: ready.port, serverName: TEST_SERVER_NAME, ca: pki.caPem };

  const handshakeMs: number[] = [];
  for (let i = 0; i < HANDSHAKES; i += 1) {
    const t0 = process.hrtime.bigint();
    const link = await connectDtls(options);
    handshakeMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    link.close();
  }
  handshakeMs.sort((a, b) => a - b);

  const link = await connectDtls(options);
  let onDatagram: (datagram: Buffer) => void = () => undefined;
  link.onDatagram((datagram) => onDatagram(Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength)));

  // Agent -> hub.
  const upSender = pacedSender(link, THROUGHPUT_RECORDS);
  onDatagram = (datagram) => {
    if (datagram[0] === Kind.Ack) upSender.onAck(datagram);
  };
  const upReport = once(child, 'message') as Promise<[{ received: number }]>;
  const upMs = await upSender.done;
  const [up] = await upReport;

  // Hub -> agent.
  const down = await new Promise<{ ms: number; received: number }>((resolve) => {
    const t0 = process.hrtime.bigint();
    const receive = ackingReceiver(link, THROUGHPUT_RECORDS, (received) =>
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, received }),
    );
    onDatagram = (datagram) => {
      if (datagram[0] === Kind.Data) receive(datagram);
    };
    link.send(Buffer.from([Kind.StartSend]));
  });

  // Ping-pong.
  const rtts: number[] = [];
  const ping = Buffer.alloc(PING_BYTES, 1);
  ping[0] = Kind.Ping;
  await new Promise<void>((resolve) => {
    let t0 = process.hrtime.bigint();
    onDatagram = (datagram) => {
      if (datagram[0] !== Kind.Ping) return;
      rtts.push(Number(process.hrtime.bigint() - t0) / 1e3);
      if (rtts.length === PINGS) return resolve();
      t0 = process.hrtime.bigint();
      link.send(ping);
    };
    link.send(ping);
  });
  rtts.sort((a, b) => a - b);
  link.close();
  child.disconnect();
  await once(child, 'exit');
  pki.cleanup();

  const mbps = (records: number, ms: number): string => ((records * RECORD_BYTES) / 1e6 / (ms / 1e3)).toFixed(1);
  console.log(JSON.stringify({
    handshake_ms: { p50: percentile(handshakeMs, 0.5), p90: percentile(handshakeMs, 0.9) },
    agent_to_hub: { records: THROUGHPUT_RECORDS, delivered: up.received, mb_per_s: mbps(up.received, upMs) },
    hub_to_agent: { records: THROUGHPUT_RECORDS, delivered: down.received, mb_per_s: mbps(down.received, down.ms) },
    ping_pong_100b_us: { p50: percentile(rtts, 0.5), p99: percentile(rtts, 0.99) },
  }, null, 2));
}

if (process.argv[2] === '--hub') await hubMain();
else await agentMain();
