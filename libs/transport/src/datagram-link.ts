/**
 * The one thing the stream layer needs from below: an unreliable, unordered datagram
 * pipe (a DTLS session in production, an in-memory lossy shim in tests).
 * Datagrams may be lost, duplicated or reordered; each one arrives whole or not at all.
 */
export interface DatagramLink {
  /** Largest payload, in bytes, that `send` accepts (the DTLS link keeps UDP payloads <= 1200 B). */
  readonly maxDatagramSize: number;
  /**
   * Larger datagram sizes the link can send when the path carries them: the candidates of
   * path MTU discovery (RFC 8899). A datagram above maxDatagramSize may be lost silently
   * (too large for the path); the transport only builds such packets after a probe of that
   * size was acknowledged. Absent or empty: maxDatagramSize is all.
   */
  readonly probeDatagramSizes?: readonly number[];
  /** Best-effort send of one datagram (length <= the largest of maxDatagramSize and probeDatagramSizes). Never throws for a closed link. */
  send(datagram: Uint8Array): void;
  /** Sets the one receiver of incoming datagrams (replaces any earlier one). */
  onDatagram(handler: (datagram: Uint8Array) => void): void;
  /** Sets the one handler called once when the link closes (peer alert, error, local close). */
  onClose(handler: (err?: Error) => void): void;
  /** Closes the link; idempotent. */
  close(): void;
}
