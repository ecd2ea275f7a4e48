/** A snapshot of one connection's counters and estimates (`Connection.stats()`). */
export interface ConnectionStats {
  /** Packets sent, including ACK-only and probe packets. */
  packetsSent: number;
  /** Valid, non-duplicate packets received. */
  packetsReceived: number;
  /** In-flight packets declared lost (RFC 9002 §6.1). */
  packetsLost: number;
  /** Packets that carried stream data sent before (frames are retransmitted, never packets). */
  packetsRetransmitted: number;
  /** Packets that carried only an ACK. */
  ackOnlyPacketsSent: number;
  /** Datagram bytes sent / received. */
  bytesSent: number;
  bytesReceived: number;
  /** Stream payload bytes sent for the first time / sent again. */
  streamBytesSent: number;
  streamBytesRetransmitted: number;
  /** Stream payload bytes received (highest offsets, all streams). */
  streamBytesReceived: number;
  /** Datagrams dropped as malformed: wrong version byte, bad length, broken or unknown frame. */
  garbageDropped: number;
  /** Packets dropped because their packet number was seen before. */
  duplicatesDropped: number;
  /** Probe timeouts that fired (RFC 9002 §6.2). */
  probeTimeouts: number;
  /** RTT estimates (RFC 9002 §5), in ms. */
  smoothedRttMs: number;
  minRttMs: number;
  rttVarianceMs: number;
  latestRttMs: number;
  /** Congestion controller state (RFC 9002 §7); slowStartThresholdBytes is Infinity until the first reduction. */
  congestionWindowBytes: number;
  slowStartThresholdBytes: number;
  /** Loss events that reduced the congestion window. */
  congestionReductions: number;
  /** Loss events within the loss tolerance: repaired, window kept (always 0 with 'new-reno'). */
  toleratedLossEvents: number;
  /** Packets declared lost, then acknowledged: reordered, not lost. */
  spuriousLosses: number;
  bytesInFlight: number;
  /** Pacing rate (RFC 9002 §7.7), in bytes per second. */
  pacingRateBytesPerSecond: number;
  /** Streams with live state. */
  streamCount: number;
  /** Streams this side may open in total (the peer's MAX_STREAMS), or 0 before its parameters arrived. */
  peerMaxStreams: number;
  /** Current receive window of the connection (auto-tuned), in bytes. */
  connectionWindowBytes: number;
  /** Size packets are built at now: the link's base size, or what path MTU discovery confirmed (RFC 8899), in bytes. */
  maxDatagramSizeBytes: number;
  /** Path MTU probes sent. */
  pmtuProbesSent: number;
  /** Falls back to the base size after large packets kept getting lost (RFC 8899 §4.3). */
  pmtuBlackHoles: number;
}
