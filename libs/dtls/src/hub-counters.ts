/** Counters of one hub socket; snake_case because they go straight into logs and metrics. */
export interface HubCounters {
  /** Datagrams that are not well-formed DTLS (tiny, garbage, bad framing, more than MAX_RECORDS_PER_DATAGRAM records, bad ClientHello). */
  garbage_dropped: number;
  /** Records that shared a datagram with a ClientHello: a datagram starts one unit of work, its first ClientHello. */
  datagram_records_dropped: number;
  /** Records from a peer without a session or handshake, or of an epoch that does not fit. */
  stray_dropped: number;
  /** HelloVerifyRequests sent (stateless, nothing allocated). */
  cookies_sent: number;
  /** HelloVerifyRequests not sent because they would have been larger than the datagram that asked (RFC 6347 §4.2.1). */
  hello_verify_suppressed: number;
  /** ClientHellos with a cookie that did not verify (answered with a fresh cookie). */
  bad_cookies: number;
  /** Handshakes completed. */
  handshakes: number;
  /** Handshakes that failed (negotiation, alert, werift error). */
  handshake_failures: number;
  /** Handshakes abandoned at the handshake deadline. */
  handshake_timeouts: number;
  /** Verified ClientHellos dropped because the hub has no certificate yet. */
  handshakes_refused_no_certificate: number;
  /** Verified ClientHellos refused because `maxSessions` peers were present. */
  sessions_refused: number;
  /** Verified ClientHellos refused: the source had DEFAULT_MAX_HANDSHAKES_PER_IP (`maxHandshakesPerIp`) handshakes in progress. */
  handshakes_refused_ip_handshakes: number;
  /** Verified ClientHellos refused: the source had `maxUnauthenticatedPerIp` handshakes and unauthenticated sessions. */
  handshakes_refused_ip_unauthenticated: number;
  /** Verified ClientHellos refused: handshakes and unauthenticated sessions used up `maxUnauthenticated`. */
  handshakes_refused_unauthenticated_share: number;
  /** Verified ClientHellos refused: the source had started `handshakeBurstPerIp` handshakes faster than `handshakesPerIpPerS` refilled them. */
  handshakes_refused_ip_rate: number;
  /** Epoch-0 handshake records of a handshake in progress that fail RFC 6347 §4.2.3 checks or are of an unexpected type, or bad ChangeCipherSpecs (dropped before werift). */
  handshake_records_invalid: number;
  /** Handshakes dropped for handing werift more records, fragments or fragment bytes than the MAX_HANDSHAKE_*_PER_PEER caps. */
  handshake_limits_exceeded: number;
  /** Epoch-0 records for a live session that are not an exact retransmission of the client's final flight (or past its budget). */
  epoch0_dropped: number;
  /** Records of an exact retransmission of a client's final flight handed to werift after the handshake, so that it resends its own (RFC 6347 §4.2.4). */
  final_flight_retransmissions: number;
  /** Live sessions replaced by a newer completed handshake from the same address. */
  sessions_replaced: number;
  /** Records whose AEAD tag did not verify (forged or corrupted). */
  auth_failures: number;
  /** Duplicate or too-old records (RFC 6347 §4.1.2.6). */
  replays_dropped: number;
  /** `send` calls larger than the largest probe size, MAX_SEND_DATAGRAM_BYTES (dropped). */
  oversize_dropped: number;
  /** Internal errors caught while handling a datagram. */
  internal_errors: number;
}

export function newHubCounters(): HubCounters {
  return {
    garbage_dropped: 0,
    datagram_records_dropped: 0,
    stray_dropped: 0,
    cookies_sent: 0,
    hello_verify_suppressed: 0,
    bad_cookies: 0,
    handshakes: 0,
    handshake_failures: 0,
    handshake_timeouts: 0,
    handshakes_refused_no_certificate: 0,
    sessions_refused: 0,
    handshakes_refused_ip_handshakes: 0,
    handshakes_refused_ip_unauthenticated: 0,
    handshakes_refused_unauthenticated_share: 0,
    handshakes_refused_ip_rate: 0,
    handshake_records_invalid: 0,
    handshake_limits_exceeded: 0,
    epoch0_dropped: 0,
    final_flight_retransmissions: 0,
    sessions_replaced: 0,
    auth_failures: 0,
    replays_dropped: 0,
    oversize_dropped: 0,
    internal_errors: 0,
  };
}
