/**
 * Every size, timer and limit of the DTLS layer, in one place.
 */

/** Base UDP payload of application records, in bytes (below common path MTUs); path MTU discovery may confirm larger ones. */
export const MAX_UDP_PAYLOAD_BYTES = 1200;

/** DTLS record header: type(1) version(2) epoch(2) sequence(6) length(2) (RFC 6347 §4.1). */
export const RECORD_HEADER_BYTES = 13;

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

/** Length of the generated cookie secret, in bytes. */
export const COOKIE_SECRET_BYTES = 32;

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
