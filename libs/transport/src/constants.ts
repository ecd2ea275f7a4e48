/**
 * Every timer, window and limit of the transport, with its unit in the name.
 * Section numbers refer to RFC 9000 (QUIC transport) and RFC 9002 (loss detection and
 * congestion control) unless noted.
 */

// ---------------------------------------------------------------- wire format

/** Version of the packet format, carried in the high nibble of a packet's first byte. */
export const PACKET_FORMAT_VERSION = 1;
/** The one packet type (a 1-RTT data packet), carried in the low nibble of the first byte. */
export const PACKET_TYPE_DATA = 1;
/** First byte of every packet of this format: version 1, type data (0x11). */
export const PACKET_FIRST_BYTE = (PACKET_FORMAT_VERSION << 4) | PACKET_TYPE_DATA;
/** Smallest `link.maxDatagramSize` the transport works with, in bytes. */
export const MIN_DATAGRAM_SIZE_BYTES = 256;
/** Largest datagram the transport builds, in bytes (the payload-length field stays 2 bytes). */
export const MAX_DATAGRAM_SIZE_BYTES = 16_383;
/** Default datagram size of the in-memory link, in bytes (a DTLS record in a 1200 B UDP payload). */
export const DEFAULT_MEMORY_LINK_DATAGRAM_SIZE_BYTES = 1160;
/** Longest CONNECTION_CLOSE reason phrase sent, in bytes (longer ones are cut). */
export const MAX_CLOSE_REASON_BYTES = 256;

// ---------------------------------------------------------------- path MTU (RFC 8899, RFC 9000 §14.3)

/** Probes of one size lost before the search stops below it: MAX_PROBES (RFC 8899 §5.1.2). */
export const PMTU_MAX_PROBES = 3;
/** After a search stopped, larger sizes are probed again after this long: PMTU_RAISE_TIMER (RFC 8899 §5.1.1), in ms. */
export const PMTU_RAISE_INTERVAL_MS = 600_000;
/**
 * Packets above the base size declared lost in a row (none of them acknowledged between)
 * that mean the path no longer carries them (a black hole, RFC 8899 §4.3): the size falls
 * back to the base. At 30% random loss 16 in a row has a chance of about 4e-9 per packet.
 */
export const PMTU_BLACK_HOLE_LOST_PACKETS = 16;

// ---------------------------------------------------------------- loss detection (RFC 9002 §6)

/** Packet reordering threshold: kPacketThreshold (RFC 9002 §6.1.1). */
export const PACKET_THRESHOLD = 3;
/** Time reordering threshold as a multiple of the RTT: kTimeThreshold (RFC 9002 §6.1.2). */
export const TIME_THRESHOLD_RTT_MULTIPLIER = 9 / 8;
/** Timer granularity: kGranularity (RFC 9002 §6.1.2), in ms. */
export const TIMER_GRANULARITY_MS = 1;
/**
 * RTT assumed before the first sample (RFC 9002 §6.2.2 suggests 333 ms; a tunnel to a
 * hub is rarely that far away, and a too-early probe only resends a few bytes), in ms.
 */
export const INITIAL_RTT_MS = 100;
/** Upper bound of one probe timeout after exponential backoff (RFC 9002 §6.2.1), in ms. */
export const MAX_PROBE_TIMEOUT_MS = 60_000;
/** Ack-eliciting probe packets sent when the probe timer fires (RFC 9002 §6.2.4). */
export const PROBE_PACKETS_PER_TIMEOUT = 2;
/**
 * Lost packets remembered so that an ACK arriving for one of them later is recognised as
 * reordering, not loss (it then stops counting against the loss tolerance).
 */
export const MAX_TRACKED_LOST_PACKETS = 1024;
/** Persistent congestion threshold, in probe timeouts: kPersistentCongestionThreshold (RFC 9002 §7.6.1). */
export const PERSISTENT_CONGESTION_THRESHOLD = 3;

// ---------------------------------------------------------------- acknowledgements (RFC 9000 §13.2)

/**
 * Longest time a receiver delays an acknowledgement of an ack-eliciting packet:
 * max_ack_delay (RFC 9000 §13.2.1, §18.2). A protocol constant here (there is no
 * handshake to carry it), chosen for a LAN; in ms.
 */
export const MAX_ACK_DELAY_MS = 5;
/**
 * Ack-eliciting packets received before an ACK is sent without waiting for the timer
 * (RFC 9000 §13.2.2 suggests 2; every datagram costs a DTLS record and a syscall, so fewer
 * ACKs are sent here. Out-of-order arrivals are still acknowledged at once).
 */
export const ACK_ELICITING_PACKETS_BEFORE_ACK = 8;
/** Most ACK ranges put in one ACK frame (RFC 9000 §13.2.3 lets a receiver limit them). */
export const MAX_ACK_RANGES = 32;
/** Most received packet-number ranges remembered; older ones are forgotten (RFC 9000 §13.2.3). */
export const MAX_TRACKED_RECEIVED_RANGES = 64;

// ---------------------------------------------------------------- congestion control (RFC 9002 §7)

/**
 * Initial congestion window, in packets. RFC 9002 §7.2 suggests about 10 packets for the
 * Internet; the hub and agent are usually on a LAN or a fat path, and every packet is
 * paced (§7.7), so 32 packets (~37 KB) are sent in the first RTT.
 */
export const INITIAL_CONGESTION_WINDOW_PACKETS = 32;
/** Minimum congestion window: kMinimumWindow (RFC 9002 §7.2), in packets. */
export const MIN_CONGESTION_WINDOW_PACKETS = 2;
/** Upper bound of the congestion window, in bytes (flow control bounds it well before). */
export const MAX_CONGESTION_WINDOW_BYTES = 64 * 1024 * 1024;
/** Window reduction on loss: kLossReductionFactor (RFC 9002 §7.3.2), used by NewReno. */
export const LOSS_REDUCTION_FACTOR = 0.5;
/**
 * Window reduction of the loss-tolerant controller when it does react: CUBIC's
 * multiplicative decrease factor beta_cubic (RFC 9438 §4.6).
 */
export const LOSS_TOLERANT_REDUCTION_FACTOR = 0.7;
/**
 * Loss tolerance of the loss-tolerant controller: a loss event reduces the window only
 * when the bytes lost in the current round trip exceed this fraction of the round's
 * traffic (the larger of bytes acknowledged + lost in the round, and the window). Random
 * loss of a few percent stays under it; an overflowing queue (a burst of losses in one
 * round) or sustained heavy loss goes over it. BBRv2's loss_thresh is 2%
 * (draft-cardwell-iccrg-bbr-congestion-control-02 §4.2); ours sits above the 2-5% random
 * loss the hub<->agent link must carry at full speed.
 */
export const LOSS_TOLERANCE_FRACTION = 0.1;

// ---------------------------------------------------------------- pacing (RFC 9002 §7.7)

/** Pacing gain N: the pacer sends at N * cwnd / smoothed_rtt (RFC 9002 §7.7). */
export const PACING_GAIN = 1.25;
/** Smallest burst the pacer allows, in packets (quic-go uses 10). */
export const PACER_MIN_BURST_PACKETS = 10;
/** The pacer lets this much send time accumulate into one burst (timers tick in ms), in ms. */
export const PACER_BURST_INTERVAL_MS = 2;

// ---------------------------------------------------------------- flow control (RFC 9000 §4)

/** The path the default windows are sized for: a hub and its agents across a region, 60 MB/s, in bytes per second. */
export const TARGET_PATH_RATE_BYTES_PER_SECOND = 60_000_000;
/** ... at this round-trip time, in ms. */
export const TARGET_PATH_RTT_MS = 20;
/**
 * Bandwidth-delay product of the target path (1.2 MB), in bytes. RFC 9000 §4: a sender may
 * have at most the receiver's credit unacknowledged, so credit below the BDP caps the rate
 * at credit / RTT (256 KiB at 20 ms: 13 MB/s).
 */
export const TARGET_PATH_BDP_BYTES = (TARGET_PATH_RATE_BYTES_PER_SECOND * TARGET_PATH_RTT_MS) / 1000;
/** Windows are whole multiples of this, in bytes. */
const WINDOW_GRANULE_BYTES = 64 * 1024;
/**
 * Default initial receive window of one stream: the target BDP rounded up to 64 KiB (1,245,184 bytes), so a new
 * stream (one per request) can fill the path from its first round trip instead of waiting for
 * auto-tuning to double a smaller window; in bytes. What a stream may hold unread stays bounded
 * by the connection window.
 */
export const DEFAULT_INITIAL_STREAM_WINDOW_BYTES = Math.ceil(TARGET_PATH_BDP_BYTES / WINDOW_GRANULE_BYTES) * WINDOW_GRANULE_BYTES;
/** Default upper bound of a stream's auto-tuned receive window, in bytes (5x the target BDP: room for loss repair). */
export const DEFAULT_MAX_STREAM_WINDOW_BYTES = 6 * 1024 * 1024;
/**
 * Default initial receive window of the whole connection: two streams' initial windows
 * (above CONNECTION_TO_STREAM_WINDOW_RATIO), in bytes.
 */
export const DEFAULT_INITIAL_CONNECTION_WINDOW_BYTES = 2 * DEFAULT_INITIAL_STREAM_WINDOW_BYTES;
/** Default upper bound of the connection's auto-tuned receive window, in bytes. */
export const DEFAULT_MAX_CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
/**
 * MAX_STREAMS (RFC 9000 §4.6, §19.11) for freed peer streams is urgent once the peer has less
 * than this fraction of `maxIncomingStreams` left to open: then it goes at once, in a packet
 * of its own if need be. Before that it rides on the next ack-eliciting packet sent anyway
 * (a response), so that a request/response costs one datagram each way, not two.
 */
export const MAX_STREAMS_UPDATE_THRESHOLD = 0.5;
/**
 * Longest a non-urgent MAX_STREAMS waits for a packet to ride on, in ms (the peer still has
 * at least half of its stream credit meanwhile). RFC 9000 §18.2's default max_ack_delay.
 */
export const MAX_STREAMS_UPDATE_DELAY_MS = 25;

/** Smallest receive window accepted in the options, in bytes. */
export const MIN_WINDOW_BYTES = 16 * 1024;
/** A window update is sent once this fraction of the window has been consumed (quic-go: 0.25). */
export const WINDOW_UPDATE_THRESHOLD = 0.25;
/**
 * Auto-tuning (quic-go): if a window's worth of data was consumed in less than this many
 * RTTs (scaled by the fraction consumed), the window doubles, up to its maximum.
 */
export const WINDOW_AUTO_TUNE_RTT_MULTIPLIER = 4;
/** The connection window is kept at least this multiple of the largest stream window. */
export const CONNECTION_TO_STREAM_WINDOW_RATIO = 1.5;
/**
 * A stream accepts writes (the `write()` callback is called) while its unacknowledged
 * bytes stay under max(this, the credit the peer has granted); in bytes.
 */
export const STREAM_SEND_BUFFER_MIN_BYTES = 64 * 1024;
/**
 * Most received segments (out-of-order or not yet read) held across all streams of a
 * connection. A legitimate peer sends ~1,100-byte frames, so a 16 MiB window needs ~15,000;
 * a peer that fragments its data far beyond that (to exhaust memory) is closed with
 * PROTOCOL_VIOLATION.
 */
export const MAX_RECEIVE_SEGMENTS_PER_CONNECTION = 65_536;
/** In-order received segments smaller than this are merged (one copy) before they reach the Readable, in bytes. */
export const SMALL_SEGMENT_BYTES = 512;
/** Upper size of such a merged chunk, in bytes. */
export const MERGED_SEGMENT_MAX_BYTES = 16 * 1024;
/** highWaterMark of each stream's Readable and Writable sides, in bytes. */
export const STREAM_HIGH_WATER_MARK_BYTES = 64 * 1024;

// ---------------------------------------------------------------- streams (RFC 9000 §2, §4.6)

/** Default number of concurrent streams the peer may open (MAX_STREAMS credit). */
export const DEFAULT_MAX_INCOMING_STREAMS = 1024;
/** Largest stream count a MAX_STREAMS frame may carry (RFC 9000 §4.6: 2^60). */
export const MAX_STREAMS_LIMIT = 2 ** 60;

// ---------------------------------------------------------------- connection (RFC 9000 §10)

/** Default idle timeout: no packet received for this long closes the connection, in ms. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/**
 * Default keepalive of a client (the agent): a PING when nothing was received for this long,
 * in ms (0 disables). Short so that an idle peer that died is noticed within KEEPALIVE +
 * MIN_DEAD_PEER_MS (~3 s). An idle session costs one PING and its ACK per second.
 */
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 1_000;
/**
 * Default keepalive of a server (the hub), in ms: longer than the client's, so the client's
 * PING always arrives first and resets it, and an idle session carries one PING a second, not
 * two crossing each other (equal intervals lock both sides in phase: measured 2 PINGs + 2 ACKs
 * a second). The server PINGs only when the client went quiet: a silent client is noticed
 * within 1.5 s + MIN_DEAD_PEER_MS (~3.5 s).
 */
export const DEFAULT_SERVER_KEEPALIVE_INTERVAL_MS = 1_500;
/**
 * Dead-peer bound as a multiple of smoothed_rtt + 4 * rttvar: 15 is the time four probe
 * timeouts take with their exponential backoff (1 + 2 + 4 + 8, RFC 9002 §6.2.1), so the peer
 * had four rounds of probes (each of PROBE_PACKETS_PER_TIMEOUT packets) to answer.
 */
export const DEAD_PEER_PTO_MULTIPLIER = 15;
/**
 * Least time without an acknowledgement, while ack-eliciting packets are outstanding, before
 * the peer is declared dead, in ms. Far above loopback and LAN RTTs so that loss (a lost
 * PING and its probes), a GC pause or a busy event loop on the peer do not look like death.
 */
export const MIN_DEAD_PEER_MS = 2_000;
/**
 * Most time without an acknowledgement, while ack-eliciting packets are outstanding, before
 * the peer is declared dead, in ms, however large the RTT estimate grew. The idle timeout
 * stays the outer bound when it is shorter.
 */
export const MAX_DEAD_PEER_MS = 5_000;
/**
 * The keepalive never waits longer than idleTimeout / this, so an idle but healthy
 * connection always sends PINGs (which elicit ACKs) well before either side's idle timer
 * fires (RFC 9000 §10.1.2: keep-alive must come before the idle timeout).
 */
export const KEEPALIVE_IDLE_TIMEOUT_DIVISOR = 3;
/** A STREAM frame is only started with at least this much room left in the packet, in bytes. */
export const MIN_STREAM_FRAME_BYTES = 32;
/** Most packets sent in one event-loop turn before yielding to I/O. */
export const MAX_PACKETS_PER_FLUSH = 64;
