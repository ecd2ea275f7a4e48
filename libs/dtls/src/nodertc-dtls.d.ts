/**
 * The part of @nodertc/dtls 0.6.0 (as patched in /patches) that this library uses.
 * The package ships no types.
 */
declare module '@nodertc/dtls' {
  import type { Duplex } from 'node:stream';
  import type { X509Certificate } from 'node:crypto';

  export interface NodertcConnectOptions {
    /** A duplex of datagrams to use instead of a socket of its own (then the address options are unused). */
    socket?: Duplex;
    type?: 'udp4' | 'udp6';
    remoteAddress?: string;
    remotePort?: number;
    recvBufferSize?: number;
    sendBufferSize?: number;
    /** Patched: called with the leaf (Node X509Certificate) and the whole chain as DER. */
    checkServerIdentity?: (certificate: X509Certificate, chain: Buffer[]) => boolean;
    cipherSuites?: Array<number | string>;
    maxHandshakeRetransmissions?: number;
    extendedMasterSecret?: boolean;
  }

  /** Patched: errors from alerts carry the alert description. */
  export interface NodertcAlertError extends Error {
    alertDescription?: number;
  }

  /** Patched: the established session's record layer (keys, epochs, shared record counter and replay window). */
  export interface NodertcRecordLayer {
    /** 0xfefd (DTLS 1.2). */
    version: number;
    clientWriteKey: Buffer;
    serverWriteKey: Buffer;
    /** client_write_IV / server_write_IV in the first 4 bytes (RFC 5288 §3). */
    clientNonce: Buffer;
    serverNonce: Buffer;
    writeEpoch(): number;
    readEpoch(): number;
    /** The next outgoing record number (the session's own counter). */
    nextRecordNumber(): number;
    /** The session's anti-replay window (RFC 6347 §4.1.2.6): check before, accept after authentication. */
    window: { check(sequence: number): boolean; accept(sequence: number): boolean };
    /** Restarts the socket's inactivity timer (setTimeout), as a received record does. */
    received(): void;
  }

  export interface NodertcSocket extends Duplex {
    /** Patched: the record layer once the handshake completed, else null. */
    recordLayer(): NodertcRecordLayer | null;
    /** Patched: one event per received application record (datagram semantics). */
    on(event: 'message', listener: (record: Buffer) => void): this;
    /** Patched: a record dropped before the application: 'auth', 'malformed' or 'replay'. */
    on(event: 'drop', listener: (reason: string) => void): this;
    on(event: 'connect' | 'timeout' | 'close', listener: () => void): this;
    on(event: 'certificate', listener: (certificate: X509Certificate) => void): this;
    on(event: 'error', listener: (err: NodertcAlertError) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
    /** Patched: sends an encrypted close_notify alert (RFC 5246 §7.2.1). */
    sendCloseNotify(): void;
    close(): void;
  }

  export function connect(options: NodertcConnectOptions, callback?: () => void): NodertcSocket;

  export const constants: { cipherSuites: Record<string, number> };

  const dtls: { connect: typeof connect; constants: typeof constants };
  export default dtls;
}
