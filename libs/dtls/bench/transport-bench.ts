/**
 * One-off measurement (not a test): one transport stream over a real DTLS session on loopback,
 * the hub (DtlsHubServer + server Connection) in a child process, the agent (connectDtls +
 * client Connection) in this one, as in the services. Optionally through a UdpLossProxy in a
 * third process that adds a one-way delay each way (so its CPU counts in neither side).
 * Prints MB/s and the CPU ms per MiB of each side (process.cpuUsage, user + system, from the
 * stream's first byte to its last, so startup and the handshake are left out).
 *
 *   node [--cpu-prof] dist/bench/transport-bench.js [MiB] [down|up] [oneWayDelayMs] [maxPayloadBytes]
 *
 * Defaults: 200 MiB, down (hub -> agent, as a download through the tunnel), no proxy. A delay
 * or a largest UDP payload (1452 models a 1500-byte Ethernet path) puts the proxy in the path. A
 * 16 MiB warm-up transfer first lets path MTU discovery climb and the JIT settle.
 * With --cpu-prof both the hub and the agent write a profile.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Connection, type TransportStream } from '@hopgate/transport';
import { UdpLossProxy } from '@hopgate/testkit';
import { DtlsHubServer, connectDtls, type DtlsServerLink } from '../src/index.js';
import { makeTestPki, TEST_SERVER_NAME } from '../test-support/certs.js';

const MIB = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const WARM_UP_MIB = 16;
/** How often the agent samples its bytes in flight and pacing rate, in ms. */
const FLIGHT_SAMPLE_INTERVAL_MS = 5;
/** First byte of the agent's request on a stream: the hub then sends (Down) or receives (Up). */
const Request = { Down: 0x44, Up: 0x55 } as const;

interface Report {
  kind: 'done';
  cpuMs: number;
  bytes: number;
  /** The hub connection's congestion window, RTT and receive window at the end. */
  stats: Record<string, number>;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Writes `bytes` to the stream with backpressure, then ends it. */
async function pump(stream: TransportStream, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x61);
  for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
    if (!stream.write(sent + CHUNK_BYTES <= bytes ? chunk : chunk.subarray(0, bytes - sent))) await once(stream, 'drain');
  }
  stream.end();
}

/** Reads the stream to its end; resolves with the byte count. */
function drain(stream: TransportStream, skipFirst: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let length = skipFirst ? -1 : 0;
    stream.on('data', (data: Buffer) => (length += data.length));
    stream.once('end', () => resolve(length));
    stream.once('error', reject);
  });
}

function summary(conn: Connection): Record<string, number> {
  const s = conn.stats();
  return {
    cwnd_bytes: Math.round(s.congestionWindowBytes),
    srtt_ms: Number(s.smoothedRttMs.toFixed(2)),
    min_rtt_ms: Number(s.minRttMs.toFixed(2)),
    packets_sent: s.packetsSent,
    packets_lost: s.packetsLost,
    ack_only_sent: s.ackOnlyPacketsSent,
    datagram_bytes: s.maxDatagramSizeBytes,
    connection_window_bytes: s.connectionWindowBytes,
  };
}

async function hubMain(): Promise<void> {
  const { certPem, keyPem } = JSON.parse(process.argv[3] ?? '{}') as { certPem: string; keyPem: string };
  const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem, keyPem });
  hub.on('session', (link: DtlsServerLink) => {
    const conn = new Connection(link, { role: 'server' });
    conn.on('stream', (stream: TransportStream) => {
      stream.on('error', () => undefined);
      stream.once('data', (first: Buffer) => {
        const start = process.cpuUsage();
        const size = first.readUInt32BE(1);
        if (first[0] === Request.Down) {
          void pump(stream, size).then(() =>
            stream.once('close', () => process.send?.({ kind: 'done', cpuMs: cpuMsSince(start), bytes: size, stats: summary(conn) } satisfies Report)),
          );
          stream.resume();
        } else {
          let length = first.length - 5;
          stream.on('data', (data: Buffer) => (length += data.length));
          stream.once('end', () => {
            stream.end();
            process.send?.({ kind: 'done', cpuMs: cpuMsSince(start), bytes: length, stats: summary(conn) } satisfies Report);
          });
        }
      });
    });
  });
  process.send?.({ kind: 'port', port: hub.address().port });
  process.on('disconnect', () => void hub.close());
}

async function proxyMain(): Promise<void> {
  const [hubPort, delayMs, maxPayloadBytes] = [Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
  const impairments = { delayMs, maxPayloadBytes: maxPayloadBytes > 0 ? maxPayloadBytes : Infinity };
  const proxy = await UdpLossProxy.start({ target: { host: '127.0.0.1', port: hubPort }, upstream: impairments, downstream: impairments });
  process.send?.({ kind: 'port', port: proxy.port });
  process.on('disconnect', () => void proxy.close());
}

async function transfer(conn: Connection, hub: ReturnType<typeof fork>, direction: 'down' | 'up', bytes: number) {
  const header = Buffer.alloc(5);
  header[0] = direction === 'down' ? Request.Down : Request.Up;
  header.writeUInt32BE(bytes, 1);
  const report = once(hub, 'message') as Promise<[Report]>;
  const start = process.cpuUsage();
  const t0 = performance.now();
  // What the sending side keeps in flight (it is this process when uploading): mean over the transfer.
  let inFlightSum = 0;
  let pacingSum = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    const s = conn.stats();
    inFlightSum += s.bytesInFlight;
    pacingSum += s.pacingRateBytesPerSecond;
    samples++;
  }, FLIGHT_SAMPLE_INTERVAL_MS);
  const stream = conn.openStream();
  stream.on('error', () => undefined);
  stream.write(header);
  let received: number;
  if (direction === 'down') {
    received = await drain(stream, false);
    stream.end();
  } else {
    const done = drain(stream, false);
    await pump(stream, bytes);
    await done;
    received = bytes;
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const agentCpuMs = cpuMsSince(start);
  const [hubReport] = await report;
  const mib = bytes / MIB;
  return {
    direction,
    mib,
    intact: (direction === 'down' ? received : hubReport.bytes) === bytes,
    mb_per_s: Number((bytes / 1e6 / seconds).toFixed(1)),
    hub_cpu_ms_per_mib: Number((hubReport.cpuMs / mib).toFixed(2)),
    agent_cpu_ms_per_mib: Number((agentCpuMs / mib).toFixed(2)),
    agent_mean_in_flight_bytes: samples > 0 ? Math.round(inFlightSum / samples) : null,
    agent_mean_pacing_mb_per_s: samples > 0 ? Number((pacingSum / samples / 1e6).toFixed(1)) : null,
    stats: conn.stats(),
    hubStats: hubReport.stats,
  };
}

async function agentMain(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? 200);
  const direction = (process.argv[3] ?? 'down') as 'down' | 'up';
  const delayMs = Number(process.argv[4] ?? 0);
  const maxPayloadBytes = Number(process.argv[5] ?? 0);
  const pki = makeTestPki();
  const self = fileURLToPath(import.meta.url);
  const hub = fork(self, ['--hub', JSON.stringify({ certPem: pki.ecdsa.certPem, keyPem: pki.ecdsa.keyPem })]);
  const [hubReady] = (await once(hub, 'message')) as [{ port: number }];
  let port = hubReady.port;
  const proxied = delayMs > 0 || maxPayloadBytes > 0;
  const proxy = proxied ? fork(self, ['--proxy', String(port), String(delayMs), String(maxPayloadBytes)], { execArgv: [] }) : undefined;
  if (proxy) port = ((await once(proxy, 'message')) as [{ port: number }])[0].port;

  const link = await connectDtls({ host: '127.0.0.1', port, serverName: TEST_SERVER_NAME, ca: pki.caPem });
  const conn = new Connection(link, { role: 'client' });
  await transfer(conn, hub, direction, WARM_UP_MIB * MIB);
  const result = await transfer(conn, hub, direction, sizeMiB * MIB);
  const { stats, hubStats, ...figures } = result;
  console.log(JSON.stringify({
    ...figures,
    one_way_delay_ms: delayMs,
    max_payload_bytes: maxPayloadBytes > 0 ? maxPayloadBytes : null,
    hub: hubStats,
    agent: {
      cwnd_bytes: Math.round(stats.congestionWindowBytes),
      srtt_ms: Number(stats.smoothedRttMs.toFixed(2)),
      packets_sent: stats.packetsSent,
      packets_lost: stats.packetsLost,
      ack_only_sent: stats.ackOnlyPacketsSent,
      datagram_bytes: stats.maxDatagramSizeBytes,
      connection_window_bytes: stats.connectionWindowBytes,
    },
  }));
  conn.close();
  link.close();
  hub.disconnect();
  proxy?.disconnect();
  await Promise.all([once(hub, 'exit'), proxy ? once(proxy, 'exit') : undefined]);
  pki.cleanup();
}

if (process.argv[2] === '--hub') await hubMain();
else if (process.argv[2] === '--proxy') await proxyMain();
else await agentMain();
