/**
 * Throughput of one stream over the in-memory link (both ends in this process, so the
 * figure is bounded by one core doing the work of both sides).
 * Usage: node dist/bench/throughput.js [MiB] [lossRate] [delayMs] [reorderRate] [loss-tolerant|new-reno]
 * (defaults 100 MiB, no loss, no delay, no reordering, the default controller).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { type CongestionControlAlgorithm, Connection, createMemoryLinkPair, type TransportStream } from '../src/index.js';

const MIB = 1024 * 1024;
/** How often the sender's congestion window is sampled for the mean, in ms. */
const WINDOW_SAMPLE_INTERVAL_MS = 5;

async function run(sizeMiB: number, lossRate: number, delayMs: number, reorderRate: number, congestionControl: CongestionControlAlgorithm): Promise<void> {
  const [a, b] = createMemoryLinkPair({ lossRate, delayMs, reorderRate, seed: 42 });
  const client = new Connection(a, { role: 'client', congestionControl });
  const server = new Connection(b, { role: 'server', congestionControl });
  let windowSum = 0;
  let windowSamples = 0;
  const sampler = setInterval(() => {
    windowSum += client.stats().congestionWindowBytes;
    windowSamples++;
  }, WINDOW_SAMPLE_INTERVAL_MS);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const size = sizeMiB * MIB;
  const started = performance.now();
  const received = new Promise<number>((resolve) => {
    server.once('stream', (stream: TransportStream) => {
      let length = 0;
      const hash = createHash('sha256');
      stream.on('data', (data: Buffer) => {
        length += data.length;
        hash.update(data);
      });
      stream.once('end', () => {
        stream.end();
        resolve(length);
      });
    });
  });
  const stream = client.openStream();
  stream.resume();
  const finished = once(stream, 'close');
  for (let sent = 0; sent < size; sent += chunk.length) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  const length = await received;
  await finished;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  // Close only once both ends are done with the stream (the server's FIN acknowledged).
  while (server.streamCount > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  const stats = client.stats();
  console.log(
    JSON.stringify({
      size_mib: sizeMiB,
      loss_rate: lossRate,
      delay_ms: delayMs,
      reorder_rate: reorderRate,
      congestion_control: congestionControl,
      intact_length: length === size,
      seconds: Number(seconds.toFixed(2)),
      mb_per_s: Number((size / 1e6 / seconds).toFixed(1)),
      packets_sent: stats.packetsSent,
      packets_lost: stats.packetsLost,
      spurious_losses: stats.spuriousLosses,
      reductions: stats.congestionReductions,
      tolerated_loss_events: stats.toleratedLossEvents,
      mean_cwnd_packets: windowSamples > 0 ? Math.round(windowSum / windowSamples / a.maxDatagramSize) : null,
      probe_timeouts: stats.probeTimeouts,
      srtt_ms: Number(stats.smoothedRttMs.toFixed(2)),
      server_ack_only_packets: server.stats().ackOnlyPacketsSent,
    }),
  );
  client.close();
  server.close();
}

const args = process.argv.slice(2);
const congestionControl = (args[4] ?? 'loss-tolerant') as CongestionControlAlgorithm;
await run(Number(args[0] ?? 100), Number(args[1] ?? 0), Number(args[2] ?? 0), Number(args[3] ?? 0), congestionControl);
