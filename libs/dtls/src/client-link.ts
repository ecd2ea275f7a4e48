import type { X509Certificate } from 'node:crypto';
import type { NodertcAlertError, NodertcSocket } from '@nodertc/dtls';
import type { DatagramLink } from '@hopgate/transport';
import { HopError, ErrorCode } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { MAX_DATAGRAM_SIZE_BYTES, MAX_SEND_DATAGRAM_BYTES } from './constants.js';
import { probeDatagramSizesFor } from './path-mtu.js';
import { ALERT_CLOSE_NOTIFY } from './record.js';
import { LinkEvents } from './link-events.js';
import type { ConnectedUdpSocket } from './connected-udp-socket.js';
import { ClientRecordPath, RecordRefusal } from './client-record-path.js';

/** Counters of one agent-side session. */
export interface ClientLinkStats {
  datagrams_sent: number;
  datagrams_received: number;
  /** `send` calls larger than the largest probe size, MAX_SEND_DATAGRAM_BYTES (dropped). */
  oversize_dropped: number;
  /** Records whose AEAD tag did not verify (forged or corrupted). */
  auth_failures: number;
  /** Duplicate or too-old records (RFC 6347 §4.1.2.6). */
  replays_dropped: number;
  /** Malformed datagrams and records. */
  malformed_dropped: number;
}

/**
 * The agent's DTLS session to a hub (patched @nodertc/dtls), as a DatagramLink: one `send`
 * is one AES-128-GCM record in one UDP datagram: at most 1200 bytes, or larger sizes once the
 * transport's path MTU discovery confirmed them. Its UDP socket is connected to the hub: an
 * ICMP port unreachable closes the link at once with that reason. Created by connectDtls.
 */
export class DtlsClientLink implements DatagramLink {
  readonly maxDatagramSize = MAX_DATAGRAM_SIZE_BYTES;
  /** Larger sizes for path MTU discovery (the transport probes them before using them); see path-mtu.ts. */
  readonly probeDatagramSizes: readonly number[];
  /** The hub's leaf certificate (chain and name already verified). */
  readonly peerCertificate: X509Certificate;
  /** The hub as "ip:port". */
  readonly remote: string;
  private readonly counters: ClientLinkStats = {
    datagrams_sent: 0,
    datagrams_received: 0,
    oversize_dropped: 0,
    auth_failures: 0,
    replays_dropped: 0,
    malformed_dropped: 0,
  };
  private readonly events = new LinkEvents();
  /** Application records straight between the link and the UDP socket (see ClientRecordPath). */
  private readonly records: ClientRecordPath;

  /** @internal Use connectDtls, once the handshake completed. */
  constructor(
    private readonly socket: NodertcSocket,
    private readonly udp: ConnectedUdpSocket,
    peerCertificate: X509Certificate,
    remote: string,
    private readonly logger: Logger,
  ) {
    this.peerCertificate = peerCertificate;
    this.remote = remote;
    this.probeDatagramSizes = probeDatagramSizesFor(this.remote);
    const layer = socket.recordLayer();
    if (!layer) throw new HopError(ErrorCode.Internal, `DTLS session ${remote}: no record layer after the handshake`);
    this.records = new ClientRecordPath(layer);
    udp.intercept((datagram) => this.onUdpDatagram(datagram));
    socket.on('message', (record: Buffer) => {
      if (this.events.closed) return;
      this.counters.datagrams_received += 1;
      this.events.deliver(record);
    });
    socket.on('drop', (reason: string) => {
      if (reason === 'auth') this.counters.auth_failures += 1;
      else if (reason === 'replay') this.counters.replays_dropped += 1;
      else this.counters.malformed_dropped += 1;
    });
    socket.on('error', (err: NodertcAlertError) => this.onSocketError(err));
    socket.on('timeout', () => this.finish(new HopError(ErrorCode.Timeout, `DTLS session ${remote} timed out`)));
    // The hub's host answered a datagram with ICMP port unreachable: its process is gone (or
    // its port closed). The link closes at once; the transport reports the reason.
    udp.on('unreachable', () => {
      this.logger.debug({ remote }, 'ICMP port unreachable from the hub');
      this.finish(new HopError(ErrorCode.Closed, `hub ${remote} is unreachable: ICMP port unreachable (nothing listens on its UDP port)`));
    });
  }

  send(datagram: Uint8Array): void {
    if (this.events.closed) return;
    if (datagram.length > MAX_SEND_DATAGRAM_BYTES) {
      this.counters.oversize_dropped += 1;
      return;
    }
    const record = this.records.seal(datagram);
    if (!record) {
      this.finish(new HopError(ErrorCode.Closed, `DTLS session ${this.remote}: record sequence space exhausted`));
      return;
    }
    this.counters.datagrams_sent += 1;
    this.udp.sendDatagram(record);
  }

  onDatagram(handler: (datagram: Uint8Array) => void): void {
    this.events.onDatagram(handler);
  }

  onClose(handler: (err?: Error) => void): void {
    this.events.onClose(handler);
  }

  /** Sends close_notify (RFC 5246 §7.2.1), then closes the UDP socket. Idempotent. */
  close(): void {
    if (this.events.closed) return;
    this.socket.sendCloseNotify();
    this.finish(undefined);
  }

  stats(): ClientLinkStats {
    return { ...this.counters };
  }

  /** A datagram from the hub: an application record is delivered here; false hands it to @nodertc/dtls. */
  private onUdpDatagram(datagram: Buffer): boolean {
    if (this.events.closed) return false;
    const opened = this.records.open(datagram);
    if (opened === RecordRefusal.Declined) return false;
    if (opened === RecordRefusal.Replay) this.counters.replays_dropped += 1;
    else if (opened === RecordRefusal.Auth) this.counters.auth_failures += 1;
    else {
      this.counters.datagrams_received += 1;
      this.events.deliver(opened);
    }
    return true;
  }

  private onSocketError(err: NodertcAlertError): void {
    if (err.alertDescription === ALERT_CLOSE_NOTIFY) {
      this.logger.debug({ remote: this.remote }, 'hub sent close_notify');
      this.finish(undefined);
      return;
    }
    const reason = err.alertDescription !== undefined ? `alert ${err.alertDescription}` : err.message;
    this.finish(new HopError(ErrorCode.Closed, `DTLS session ${this.remote} failed: ${reason}`, { cause: err }));
  }

  private finish(err: Error | undefined): void {
    if (!this.events.markClosed(err)) return;
    // Let a queued close_notify reach the UDP socket before it closes.
    setImmediate(() => this.socket.close());
    this.events.notifyClose();
  }
}
