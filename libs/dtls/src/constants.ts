/**
 * Every size, timer and limit of the DTLS layer, in one place.
 */

/** Base UDP payload of application records, in bytes (below common path MTUs); path MTU discovery may confirm larger ones. */
export const MAX_UDP_PAYLOAD_BYTES = 1200;

/** DTLS record header: type(1) version(2) epoch(2) sequence(6) length(2) (RFC 6347 §4.1). */
export const RECORD_HEADER_BYTES = 13;

/** AES-128-GCM explicit nonce carried in each record: epoch(2) and sequence(6) (RFC 5288 §3). */
export const GCM_EXPLICIT_NONCE_BYTES = 8;
/** AES-128-GCM implicit nonce from the key block: client/server_write_IV (RFC 5288 §3). */
export const GCM_IMPLICIT_NONCE_BYTES = 4;
/** AES-128-GCM authentication tag (RFC 5288 §3, RFC 5116 §5.1). */
export const GCM_TAG_BYTES = 16;
/** AES-128 key length (RFC 5288 §3 via RFC 5116 §5.1), in bytes. */
export const AES_128_KEY_BYTES = 16;

/** AES-128-GCM per-record overhead: 13 B header + 8 B explicit nonce + 16 B tag (RFC 5288 §3). */
export const AES_128_GCM_RECORD_OVERHEAD_BYTES = RECORD_HEADER_BYTES + 8 + 16;

/** Largest datagram a link's `send` accepts: 1200 - 37 = 1163 bytes. */
export const MAX_DATAGRAM_SIZE_BYTES = MAX_UDP_PAYLOAD_BYTES - AES_128_GCM_RECORD_OVERHEAD_BYTES;

/** Most plaintext in one record: 2^14 bytes (RFC 6347 §4.1 via RFC 5246 §6.2.1). */
export const MAX_RECORD_PLAINTEXT_BYTES = 2 ** 14;

/**
 * UDP payload sizes that path MTU discovery (RFC 8899, in the transport) may try above the
 * base: a 1500-byte Ethernet MTU less IPv6 (40) and UDP (8) headers, a 9000-byte jumbo
 * frame likewise, and the largest record the transport builds (16,383 bytes of plaintext,
 * its 2-byte length field; loopback carries it). A size the path does not carry is only a
 * lost probe.
 */
export const PROBE_UDP_PAYLOAD_SIZES_BYTES: readonly number[] = [1452, 8952, 16_383 + AES_128_GCM_RECORD_OVERHEAD_BYTES];

/** The same sizes as link datagrams (record plaintext): what a link offers as `probeDatagramSizes`. */
export const PROBE_DATAGRAM_SIZES_BYTES: readonly number[] = PROBE_UDP_PAYLOAD_SIZES_BYTES.map(
  (udp) => Math.min(udp - AES_128_GCM_RECORD_OVERHEAD_BYTES, MAX_RECORD_PLAINTEXT_BYTES),
);

/** Largest datagram a link's `send` accepts: the largest probe size. */
export const MAX_SEND_DATAGRAM_BYTES = Math.max(MAX_DATAGRAM_SIZE_BYTES, ...PROBE_DATAGRAM_SIZES_BYTES);

/** Default deadline for a DTLS handshake, client and hub side, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Default limit of concurrent peers (live sessions + handshakes in progress) on one hub socket. */
export const DEFAULT_MAX_SESSIONS = 10_000;

/**
 * Most records one datagram may carry; a datagram with more is dropped whole. A client's
 * largest flight is Certificate, ClientKeyExchange, CertificateVerify, ChangeCipherSpec and
 * Finished (5 records, RFC 6347 §4.2.4); our links send one record per datagram. Bounds the
 * work one datagram can start.
 */
export const MAX_RECORDS_PER_DATAGRAM = 8;

/**
 * Largest handshake message (its 24-bit length, RFC 6347 §4.2.2) accepted from a client, in
 * bytes. The hub offers ECDHE suites only and requests no client certificate, so an agent
 * sends a ClientHello (about 200 bytes), ClientKeyExchange (66 bytes for P-256, 134 for
 * P-521) and an encrypted Finished (12 bytes of verify_data); 4 KiB leaves room for a
 * one-certificate chain from another client. Larger messages are dropped before werift
 * allocates their buffer (clear records by the hub, encrypted ones by patched werift).
 */
export const MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES = 4096;

/**
 * Handshake records (epoch 0 handshake and ChangeCipherSpec, epoch 1 handshake) one pending
 * handshake may feed to werift, retransmitted ClientHellos included. An agent sends its
 * ClientHello and its final flight (at most 5 records) up to 1 + CLIENT_HANDSHAKE_RETRANSMISSIONS
 * times each: 30 records. A peer beyond this loses its handshake.
 */
export const MAX_HANDSHAKE_RECORDS_PER_PEER = 64;

/**
 * Records carrying part of a handshake message (fragment_length < length, RFC 6347 §4.2.3)
 * one pending handshake may feed to werift, which buffers them until the message is whole.
 * Agents never fragment (their messages are far below a datagram); another client might
 * split a MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES message into a few fragments and retransmit them.
 * A peer beyond this loses its handshake.
 */
export const MAX_HANDSHAKE_FRAGMENTS_PER_PEER = 32;

/**
 * Bytes of partial handshake messages one pending handshake may feed to werift: four times
 * MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES (a whole message and three retransmissions of it).
 * A peer beyond this loses its handshake.
 */
export const MAX_HANDSHAKE_FRAGMENT_BYTES_PER_PEER = 4 * MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES;

/**
 * Records of the client's final flight handed to werift after the handshake, per session
 * (retransmissions, so that werift resends its final flight, RFC 6347 §4.2.4): the flight's
 * 5 records times CLIENT_HANDSHAKE_RETRANSMISSIONS is 20. Further copies are dropped.
 */
export const MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS = 32;

/**
 * Default limit of handshakes in progress from one source (an IPv4 address, an IPv6 /64).
 * 50 agents behind one office NAT that all reconnect at once after a hub restart hold 50,
 * and up to 100 if each retries from a new port before its first attempt times out; 128
 * leaves room for that while a single host cannot fill the hub.
 */
export const DEFAULT_MAX_HANDSHAKES_PER_IP = 128;

/**
 * Default limit of handshakes in progress plus sessions not yet authenticated (the hub has
 * not accepted the agent's hello) from one source (an IPv4 address, an IPv6 /64). The same
 * rationale and figure as DEFAULT_MAX_HANDSHAKES_PER_IP: a handshake becomes such a session,
 * so the two together stay within one budget.
 */
export const DEFAULT_MAX_UNAUTHENTICATED_PER_IP = 128;

/**
 * Default share of `maxSessions`, in percent, that handshakes in progress and unauthenticated
 * sessions may use together; the rest is kept for authenticated agents, so hosts that open
 * many sessions and never authenticate cannot lock real agents out (5,000 of 10,000).
 */
export const DEFAULT_UNAUTHENTICATED_SHARE_PERCENT = 50;

/**
 * Default sustained rate of handshakes one source (an IPv4 address, an IPv6 /64) may start,
 * per second: a token bucket refilled at this rate, one token per werift handshake (the
 * hub's CPU goes there: key generation, the certificate signature, then the key exchange).
 * Measured on the hub (2 shared cores under load, P-256 certificate): about 6 ms of CPU for
 * a whole handshake (7 ms with RSA-2048) and 3 ms for one started and aborted with an alert,
 * so 10 per second hold one source to about 6% of a core (3% aborting every handshake): it
 * takes some 17 sources at full rate to fill a core. A refused ClientHello costs an HMAC: the agent's retransmission (1 s, doubling)
 * gets in once a token is back.
 */
export const DEFAULT_HANDSHAKES_PER_IP_PER_S = 10;

/**
 * Default burst of handshakes one source may start at once (the bucket's size): 50 agents
 * behind one NAT reconnecting together after a hub restart, each retrying once, start 100.
 * A source that used its burst waits DEFAULT_HANDSHAKE_BURST_PER_IP /
 * DEFAULT_HANDSHAKES_PER_IP_PER_S = 10 s for a full one again.
 */
export const DEFAULT_HANDSHAKE_BURST_PER_IP = 100;

/**
 * Most sources whose handshake rate the hub remembers. A source is forgotten once its bucket
 * is surely full again (burst / rate seconds after its last handshake, 10 s by default), so
 * only sources that started handshakes in the last seconds count. When this many are held,
 * the least recently seen source is forgotten: it starts again with a full burst, which is
 * what it would have had after being idle. About 150 bytes each: 16,384 take some 2.5 MB.
 */
export const MAX_HANDSHAKE_RATE_SOURCES = 16_384;

/** Refusals of one kind (per-IP limits, session limits, no certificate) are logged at most once per this many ms. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** Default period of the hub's `dtls counters` log line (only when a figure of `stats()` changed), in ms. */
export const DEFAULT_STATS_LOG_INTERVAL_MS = 60_000;

/** Length of the generated cookie secret, in bytes. */
export const COOKIE_SECRET_BYTES = 32;
/** Shortest cookie secret accepted (HOPGATE_DTLS_COOKIE_SECRET entries), in bytes: 256 bits of key for HMAC-SHA256. */
export const MIN_COOKIE_SECRET_BYTES = 32;

/**
 * A HelloVerifyRequest cookie is valid in the time slot it was made in and the next one
 * (so for 30-60 s); slots of this length, in milliseconds.
 */
export const COOKIE_TIME_SLOT_MS = 30_000;

/** Anti-replay window, in records (RFC 6347 §4.1.2.6: at least 32, 64 recommended). */
export const REPLAY_WINDOW_RECORDS = 64;

/** Largest record sequence number (48 bits, RFC 6347 §4.1); a session stops before wrapping. */
export const MAX_RECORD_SEQUENCE = 2 ** 48 - 1;

/** Largest record fragment accepted on receive (RFC 6347 §4.1: 2^14 + 2048 for ciphertext). */
export const MAX_RECORD_FRAGMENT_BYTES = 2 ** 14 + 2048;

/** Longest certificate path walked from the leaf to a trusted CA. */
export const MAX_CERT_CHAIN_DEPTH = 8;

/** Client-side handshake flight retransmissions (1 s doubling) before @nodertc/dtls gives up. */
export const CLIENT_HANDSHAKE_RETRANSMISSIONS = 4;

/**
 * UDP socket receive and send buffer sizes, in bytes. Linux's default (~208 KiB) overflows
 * under a full congestion window on loopback and the losses halve NewReno's window; 1 MiB
 * keeps loss near zero without adding much queueing delay (measured; 4 MiB raised RTT to
 * 8-48 ms). The kernel caps it at net.core.rmem_max / wmem_max.
 */
export const UDP_SOCKET_BUFFER_BYTES = 1024 * 1024;
