import type { DatagramLink } from '@hopgate/transport';
import { HopError, ErrorCode } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { MAX_DATAGRAM_SIZE_BYTES, MAX_SEND_DATAGRAM_BYTES } from './constants.js';
import { probeDatagramSizesFor } from './path-mtu.js';
import type { HubCounters } from './hub-counters.js';
import type { FinalFlight } from './final-flight.js';
import { ALERT_CLOSE_NOTIFY, AlertLevel, ContentType, type DtlsRecord } from './record.js';
import type { RecordProtection } from './record-protection.js';
import { ReplayWindow } from './replay-window.js';
import { LinkEvents } from './link-events.js';
import type { RecordParts } from './aes-gcm-record-cipher.js';

/** What a hub session needs from its hub; built by DtlsHubServer. */
export interface ServerLinkContext {
  remote: string;
  clientRandom: Buffer;
  protection: RecordProtection;
  counters: HubCounters;
  logger: Logger;
  /** Sends one datagram to the peer. */
  sendRaw(datagram: Buffer | RecordParts): void;
  /**
   * The client's final flight: what a retransmission must repeat to reach the handshake, which
   * it holds until the peer's first application data or the session's close.
   */
  finalFlight: FinalFlight;
  /** The application accepted the peer (called at most once, never after release). */
  onAuthenticated(): void;
  /** Frees the peer's state in the hub (called once, on close). */
  release(): void;
}

/**
 * One agent's DTLS session on the hub, as a DatagramLink: one `send` is one
 * AES-128-GCM record in one UDP datagram: at most 1200 bytes, or larger sizes once the
 * transport's path MTU discovery confirmed them.
 */
export class DtlsServerLink implements DatagramLink {
  readonly maxDatagramSize = MAX_DATAGRAM_SIZE_BYTES;
  /** Larger sizes for path MTU discovery (the transport probes them before using them); see path-mtu.ts. */
  readonly probeDatagramSizes: readonly number[];
  /** The peer as "ip:port" ("[ip6]:port" for IPv6). */
  readonly remote: string;
  private readonly window = new ReplayWindow();
  private readonly events = new LinkEvents();
  private authenticated = false;

  constructor(private readonly context: ServerLinkContext) {
    this.remote = context.remote;
    this.probeDatagramSizes = probeDatagramSizesFor(this.remote);
  }

  /** @internal The ClientHello random of the handshake that created this session. */
  get clientRandom(): Buffer {
    return this.context.clientRandom;
  }

  get isClosed(): boolean {
    return this.events.closed;
  }

  /** True once `markAuthenticated` was called. */
  get isAuthenticated(): boolean {
    return this.authenticated;
  }

  /**
   * The application accepted the peer (the hub calls it once the agent's hello is accepted):
   * the session no longer counts against the limits on unauthenticated sessions, per source
   * and in all (`DtlsServerOptions.maxUnauthenticatedPerIp`, `maxUnauthenticated`). Until then a
   * session is one of those. Idempotent; nothing after close.
   */
  markAuthenticated(): void {
    if (this.authenticated || this.events.closed) return;
    this.authenticated = true;
    this.context.onAuthenticated();
  }

  send(datagram: Uint8Array): void {
    if (this.events.closed) return;
    if (datagram.length > MAX_SEND_DATAGRAM_BYTES) {
      this.context.counters.oversize_dropped += 1;
      return;
    }
    const record = this.context.protection.seal(ContentType.ApplicationData, datagram);
    if (!record) {
      this.finish(new HopError(ErrorCode.Closed, `DTLS session ${this.remote}: record sequence space exhausted`));
      return;
    }
    this.context.sendRaw(record);
  }

  onDatagram(handler: (datagram: Uint8Array) => void): void {
    this.events.onDatagram(handler);
  }

  onClose(handler: (err?: Error) => void): void {
    this.events.onClose(handler);
  }

  /** Sends close_notify (RFC 5246 §7.2.1) and frees the peer's state. Idempotent. */
  close(): void {
    if (this.events.closed) return;
    const alert = this.context.protection.seal(ContentType.Alert, Buffer.from([AlertLevel.Warning, ALERT_CLOSE_NOTIFY]));
    if (alert) this.context.sendRaw(alert);
    this.finish(undefined);
  }

  /** @internal Closes without an alert (replaced by a newer session, hub shutdown). */
  terminate(err: Error): void {
    this.finish(err);
  }

  /**
   * @internal A handshake or ChangeCipherSpec record from the peer. Only an exact
   * retransmission of its final flight reaches werift, which then resends its own
   * (RFC 6347 §4.2.4); anything else is dropped and counted.
   */
  handleHandshakeRecord(record: DtlsRecord): void {
    if (this.events.closed) return;
    const { counters, finalFlight } = this.context;
    if (record.epoch === 0) {
      if (finalFlight.acceptClear(record)) this.retransmitted(record);
      else counters.epoch0_dropped += 1;
      return;
    }
    const plaintext = this.open(record);
    if (!plaintext) return;
    if (record.type === ContentType.Handshake && finalFlight.acceptFinished(plaintext)) this.retransmitted(record);
    else counters.stray_dropped += 1;
  }

  private retransmitted(record: DtlsRecord): void {
    this.context.counters.final_flight_retransmissions += 1;
    this.context.finalFlight.resend(record.bytes);
  }

  /** @internal An application-data or alert record of epoch 1 from the peer. */
  handleProtectedRecord(record: DtlsRecord): void {
    if (this.events.closed) return;
    const plaintext = this.open(record);
    if (!plaintext) return;
    if (record.type === ContentType.ApplicationData) {
      this.context.finalFlight.settle();
      this.events.deliver(plaintext);
      return;
    }
    this.handleAlert(plaintext);
  }

  /** Authenticates an epoch-1 record and updates the replay window; null (counted) when it is a replay or forged. */
  private open(record: DtlsRecord): Buffer | null {
    const { counters } = this.context;
    // RFC 6347 §4.1.2.6: check the window first, update it only once the record authenticated.
    if (!this.window.check(record.sequence)) {
      counters.replays_dropped += 1;
      return null;
    }
    const plaintext = this.context.protection.open(record);
    if (!plaintext) {
      // RFC 6347 §4.1.2.7: invalid records are silently discarded.
      counters.auth_failures += 1;
      return null;
    }
    this.window.accept(record.sequence);
    return plaintext;
  }

  private handleAlert(alert: Buffer): void {
    if (alert.length !== 2) return;
    const level = alert.readUInt8(0);
    const description = alert.readUInt8(1);
    if (description === ALERT_CLOSE_NOTIFY) {
      this.context.logger.debug({ remote: this.remote }, 'peer sent close_notify');
      this.finish(undefined);
    } else if (level === AlertLevel.Fatal) {
      this.finish(new HopError(ErrorCode.Closed, `DTLS session ${this.remote}: peer sent fatal alert ${description}`));
    }
  }

  /** @internal True while the session still holds its handshake (see FinalFlight). */
  get holdsHandshake(): boolean {
    return this.context.finalFlight.holdsHandshake;
  }

  private finish(err: Error | undefined): void {
    if (!this.events.markClosed(err)) return;
    this.context.finalFlight.release();
    this.context.release();
    this.events.notifyClose();
  }
}
