import { MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS } from './constants.js';
import { isChangeCipherSpec } from './handshake-fragment.js';
import { ContentType, type DtlsRecord } from './record.js';

/** The client's final flight as the handshake took it: its clear handshake messages and its Finished. */
export interface ClientFinalFlight {
  /** ClientKeyExchange (and Certificate, CertificateVerify when sent), each header and body. */
  readonly clearMessages: readonly Buffer[];
  /** The Finished message, header and body, as decrypted. */
  readonly finished: Buffer | undefined;
}

/**
 * What a live session still accepts of the handshake: an exact retransmission of the client's
 * final flight, so that werift can resend its own final flight (RFC 6347 §4.2.4). A
 * retransmission repeats the flight's messages byte for byte in new records (new record
 * numbers, RFC 6347 §4.1), so a clear record matches when its fragment is one whole message of
 * the flight, and an encrypted one when its plaintext is the Finished. At most
 * MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS are accepted, and none once the peer has sent
 * application data: it only does so after verifying our Finished (RFC 5246 §7.4.9), so it
 * has our final flight and never retransmits its own again.
 */
export class FinalFlight {
  private remaining = MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS;

  constructor(private readonly flight: ClientFinalFlight) {}

  /** An epoch-0 record: ChangeCipherSpec, or one whole clear message of the flight. Counts it when true. */
  acceptClear(record: DtlsRecord): boolean {
    if (record.epoch !== 0) return false;
    const matches =
      isChangeCipherSpec(record) ||
      (record.type === ContentType.Handshake && this.flight.clearMessages.some((message) => message.equals(record.fragment)));
    return matches && this.take();
  }

  /** The plaintext of an authenticated epoch-1 handshake record: the flight's Finished. Counts it when true. */
  acceptFinished(plaintext: Buffer): boolean {
    const finished = this.flight.finished;
    return finished !== undefined && finished.equals(plaintext) && this.take();
  }

  /** The peer sent application data: no retransmission of its flight is due any more. */
  settle(): void {
    this.remaining = 0;
  }

  private take(): boolean {
    if (this.remaining <= 0) return false;
    this.remaining -= 1;
    return true;
  }
}
