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

/** The handshake that answers a retransmitted final flight by resending its own (WeriftHandshake). */
export interface FinalFlightResponder {
  /** Hands it one record of the retransmitted flight. */
  feed(record: Buffer): void;
  /** It will never be fed again: it stops and lets go of its state. */
  abort(): void;
}

/**
 * What a live session still accepts of the handshake: an exact retransmission of the client's
 * final flight, so that the handshake can resend its own final flight (RFC 6347 §4.2.4). A
 * retransmission repeats the flight's messages byte for byte in new records (new record
 * numbers, RFC 6347 §4.1), so a clear record matches when its fragment is one whole message of
 * the flight, and an encrypted one when its plaintext is the Finished. At most
 * MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS are accepted, and none once the peer has sent
 * application data: it only does so after verifying our Finished (RFC 5246 §7.4.9), so it
 * has our final flight and never retransmits its own again. From then on (`settle`), or once
 * the session closes (`release`), the flight's messages and the handshake are let go: a live
 * session keeps no handshake state (the handshake's objects are most of an idle session's heap).
 */
export class FinalFlight {
  private remaining = MAX_FINAL_FLIGHT_RETRANSMITTED_RECORDS;
  private flight: ClientFinalFlight | undefined;
  private responder: FinalFlightResponder | undefined;

  constructor(flight: ClientFinalFlight, responder?: FinalFlightResponder) {
    this.flight = flight;
    this.responder = responder;
  }

  /** True while the flight and the handshake are kept (until `settle` or `release`). */
  get holdsHandshake(): boolean {
    return this.flight !== undefined;
  }

  /** An epoch-0 record: ChangeCipherSpec, or one whole clear message of the flight. Counts it when true. */
  acceptClear(record: DtlsRecord): boolean {
    const flight = this.flight;
    if (record.epoch !== 0 || !flight) return false;
    const matches =
      isChangeCipherSpec(record) ||
      (record.type === ContentType.Handshake && flight.clearMessages.some((message) => message.equals(record.fragment)));
    return matches && this.take();
  }

  /** The plaintext of an authenticated epoch-1 handshake record: the flight's Finished. Counts it when true. */
  acceptFinished(plaintext: Buffer): boolean {
    const finished = this.flight?.finished;
    return finished !== undefined && finished.equals(plaintext) && this.take();
  }

  /** Hands an accepted record to the handshake, which resends its own final flight. */
  resend(record: Buffer): void {
    this.responder?.feed(record);
  }

  /** The peer sent application data: no retransmission of its flight is due any more. */
  settle(): void {
    this.release();
  }

  /** Accepts nothing more; lets go of the flight and stops the handshake. Idempotent. */
  release(): void {
    this.remaining = 0;
    this.flight = undefined;
    const responder = this.responder;
    this.responder = undefined;
    responder?.abort();
  }

  private take(): boolean {
    if (this.remaining <= 0) return false;
    this.remaining -= 1;
    return true;
  }
}
