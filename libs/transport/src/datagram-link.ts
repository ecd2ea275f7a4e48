/**
 * The one thing the stream layer needs from below: an unreliable, unordered datagram
 * pipe (a DTLS session in production, an in-memory lossy shim in tests).
 * Datagrams may be lost, duplicated or reordered; each one arrives whole or not at all.
 */
export interface DatagramLink {
  /** Largest payload, in bytes, that `send` accepts (the DTLS link keeps UDP payloads <= 1200 B). */
  readonly maxDatagramSize: number;
  /** Best-effort send of one datagram (length <= maxDatagramSize). Never throws for a closed link. */
  send(datagram: Uint8Array): void;
  /** Sets the one receiver of incoming datagrams (replaces any earlier one). */
  onDatagram(handler: (datagram: Uint8Array) => void): void;
  /** Sets the one handler called once when the link closes (peer alert, error, local close). */
  onClose(handler: (err?: Error) => void): void;
  /** Closes the link; idempotent. */
  close(): void;
}
