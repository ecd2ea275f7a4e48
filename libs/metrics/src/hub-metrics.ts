import { Counter, Gauge, type Registry } from 'prom-client';

/** The transport figures of one agent session the hub metrics read (a subset of libs/transport ConnectionStats). */
export interface TransportSample {
  smoothedRttMs: number;
  congestionWindowBytes: number;
  packetsSent: number;
  packetsRetransmitted: number;
  packetsLost: number;
}

/** Sums of the counters of sessions that already closed (kept by the hub so that the totals never go back). */
export interface TransportTotals {
  packetsSent: number;
  packetsRetransmitted: number;
  packetsLost: number;
}

/** What the hub's collectors read at scrape time. */
export interface HubStateSource {
  /** Every authenticated agent session on this hub (draining ones included). */
  sessions(): Iterable<{ clientId: string; transport: TransportSample }>;
  /** Counter sums of the sessions that closed. */
  closedTransportTotals(): TransportTotals;
}

/** Adds the sums of `sample`'s counters to `totals` (the hub calls it when a session closes). */
export function addTransportTotals(totals: TransportTotals, sample: TransportTotals): void {
  totals.packetsSent += sample.packetsSent;
  totals.packetsRetransmitted += sample.packetsRetransmitted;
  totals.packetsLost += sample.packetsLost;
}

/**
 * Hub metrics, all read at scrape time from the session table: sessions and instances per
 * client, transport RTT and congestion window aggregated over sessions (no per-session label),
 * packet counters as totals over live and closed sessions.
 */
export function addHubMetrics(registry: Registry, source: HubStateSource): void {
  const registers = [registry];
  // Each collector walks the session table once per scrape: a few hundred entries at most.
  const sessions = (): Array<{ clientId: string; transport: TransportSample }> => [...source.sessions()];
  new Gauge({
    name: 'hopgate_hub_agent_sessions',
    help: 'Authenticated agent sessions on this hub (draining ones included).',
    registers,
    collect() {
      this.set(sessions().length);
    },
  });
  new Gauge({
    name: 'hopgate_hub_agent_instances',
    help: 'Agent instances online on this hub, by client (bounded by the configured clients).',
    labelNames: ['client'],
    registers,
    collect() {
      this.reset();
      const byClient = new Map<string, number>();
      for (const { clientId } of sessions()) byClient.set(clientId, (byClient.get(clientId) ?? 0) + 1);
      for (const [client, count] of byClient) this.set({ client }, count);
    },
  });
  new Gauge({
    name: 'hopgate_hub_transport_rtt_seconds',
    help: 'Smoothed RTT (RFC 9002 §5.3) over the agent sessions: stat="min", "avg" or "max" (absent without sessions).',
    labelNames: ['stat'],
    registers,
    collect() {
      this.reset();
      const rtts = sessions().map((s) => s.transport.smoothedRttMs / 1000);
      if (rtts.length === 0) return;
      this.set({ stat: 'min' }, Math.min(...rtts));
      this.set({ stat: 'avg' }, rtts.reduce((a, b) => a + b, 0) / rtts.length);
      this.set({ stat: 'max' }, Math.max(...rtts));
    },
  });
  new Gauge({
    name: 'hopgate_hub_transport_congestion_window_bytes',
    help: 'Congestion window (RFC 9002 §7) over the agent sessions: stat="min", "avg" or "max" (absent without sessions).',
    labelNames: ['stat'],
    registers,
    collect() {
      this.reset();
      const windows = sessions().map((s) => s.transport.congestionWindowBytes);
      if (windows.length === 0) return;
      this.set({ stat: 'min' }, Math.min(...windows));
      this.set({ stat: 'avg' }, windows.reduce((a, b) => a + b, 0) / windows.length);
      this.set({ stat: 'max' }, Math.max(...windows));
    },
  });
  const total = (name: string, help: string, field: keyof TransportTotals): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        let sum = source.closedTransportTotals()[field];
        for (const { transport } of sessions()) sum += transport[field];
        this.reset();
        this.inc(sum);
      },
    });
  };
  total('hopgate_hub_transport_packets_sent_total', 'Packets the hub sent to agents (all sessions, closed ones included).', 'packetsSent');
  total('hopgate_hub_transport_packets_retransmitted_total', 'Packets to agents that carried stream data sent before (retransmissions).', 'packetsRetransmitted');
  total('hopgate_hub_transport_packets_lost_total', 'Packets to agents declared lost (RFC 9002 §6.1).', 'packetsLost');
}
