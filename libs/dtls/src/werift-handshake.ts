import type { AddressInfo } from 'node:net';
import { DtlsServer } from 'werift-dtls/lib/dtls/src/server.js';
import { flight2 } from 'werift-dtls/lib/dtls/src/flight/server/flight2.js';
import { ClientHello } from 'werift-dtls/lib/dtls/src/handshake/message/client/hello.js';
import type { TransportContext } from 'werift-dtls/lib/dtls/src/context/transport.js';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import type { ClientHelloInfo } from './client-hello.js';
import { MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES, MAX_HANDSHAKE_FRAGMENTS_PER_PEER } from './constants.js';
import type { ClientFinalFlight, FinalFlightResponder } from './final-flight.js';
import { AesGcmRecordCipher } from './aes-gcm-record-cipher.js';
import { RecordProtection, type WeriftAeadKeys } from './record-protection.js';
import type { ServerCredentials } from './server-credentials.js';

export interface WeriftHandshakeOptions {
  credentials: ServerCredentials;
  /** Sends one datagram to the peer. */
  send(datagram: Buffer): void;
  /** The handshake completed (called at most once). */
  onConnected(): void;
  /** The handshake failed (called at most once, never after onConnected). */
  onFailed(err: Error): void;
}

/** The werift transport shape (werift-dtls/lib/common Transport). */
interface WeriftTransport {
  type: string;
  address: AddressInfo;
  closed: boolean;
  onData: (data: Buffer) => void;
  send: (data: Buffer) => Promise<void>;
  close: () => Promise<void>;
}

/** The epoch that werift switches to after ChangeCipherSpec. */
const FIRST_PROTECTED_EPOCH = 1;

/** werift's flight number for the client's final flight in its handshake cache. */
const CLIENT_FINAL_FLIGHT = 5;

/** Handshake type of Finished (RFC 5246 §7.4). */
const FINISHED_MESSAGE_TYPE = 20;

/**
 * One server-side handshake run by a werift-dtls DtlsServer, for a ClientHello whose
 * stateless cookie the hub has already verified (RFC 6347 §4.2.1). werift never sees a
 * cookie-less ClientHello: its flight-2 state is set up without sending a
 * HelloVerifyRequest, and its record counter continues from the ClientHello's record
 * number, as OpenSSL's DTLSv1_listen does. After Finished, the same werift instance keeps
 * answering retransmitted client flights (as the session's FinalFlightResponder, until the
 * session settles); application records are handled by the hub.
 */
export class WeriftHandshake implements FinalFlightResponder {
  /** Its own 32 bytes (not a slice of Node's shared pool, which a live session would pin). */
  readonly clientRandom: Buffer;
  private readonly server: DtlsServer;
  /** The protection handed out once connected: it shares werift's record counter until abort. */
  private recordProtection: RecordProtection | undefined;
  private readonly transport: WeriftTransport;
  private state: 'new' | 'handshaking' | 'connected' | 'failed' | 'aborted' = 'new';

  constructor(
    private readonly hello: ClientHelloInfo,
    private readonly options: WeriftHandshakeOptions,
  ) {
    this.clientRandom = Buffer.allocUnsafeSlow(hello.random.length);
    hello.random.copy(this.clientRandom);
    this.transport = {
      type: 'udp',
      address: { address: '', family: '', port: 0 },
      closed: false,
      onData: () => undefined,
      send: async (data: Buffer) => {
        if (this.state !== 'aborted' && this.state !== 'failed') options.send(data);
      },
      close: async () => undefined,
    };
    this.server = new DtlsServer({
      transport: this.transport as unknown as ConstructorParameters<typeof DtlsServer>[0]['transport'],
      cert: options.credentials.certChainPem,
      key: options.credentials.keyPkcs8Pem,
      signatureHash: options.credentials.signatureHash,
      extendedMasterSecret: true,
      // The hub checks clear records before werift sees them; these bound the encrypted ones.
      maxHandshakeMessageBytes: MAX_CLIENT_HANDSHAKE_MESSAGE_BYTES,
      maxBufferedFragments: MAX_HANDSHAKE_FRAGMENTS_PER_PEER,
    });
    this.server.onConnect.subscribe(() => {
      if (this.state !== 'handshaking') return;
      this.state = 'connected';
      options.onConnected();
    });
    this.server.onError.subscribe((err: unknown) => this.fail(err));
    this.server.onClose.subscribe(() => this.fail(new Error('peer sent an alert during the handshake')));
  }

  /** Starts the handshake with the verified ClientHello record; throws if negotiation fails. */
  start(clientHelloRecord: Buffer): void {
    if (this.state !== 'new') throw new HopError(ErrorCode.Internal, 'handshake already started');
    this.state = 'handshaking';
    const hello = ClientHello.deSerialize(this.hello.body);
    this.server.dtls.cookie = Buffer.from(this.hello.cookie);
    // werift's flight 2 selects suite, curve and key share; its HelloVerifyRequest is dropped.
    const silent = { send: async () => undefined } as unknown as TransportContext;
    flight2(silent, this.server.dtls, this.server.cipher, this.server.srtp)(hello);
    // Our HelloVerifyRequest reused the first ClientHello's record number; the server's next
    // records continue after this ClientHello's (RFC 6347 §4.2.1, as OpenSSL does).
    this.server.dtls.recordSequenceNumber = this.hello.recordSequence;
    this.feed(clientHelloRecord);
  }

  /** Hands one handshake-layer record (epoch 0 or 1) to werift. */
  feed(record: Buffer): void {
    if (this.state === 'aborted' || this.state === 'failed' || this.state === 'new') return;
    try {
      this.transport.onData(record);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Record protection for the application records; valid once connected. */
  protection(): RecordProtection {
    if (this.state !== 'connected') throw new HopError(ErrorCode.Internal, 'handshake not complete');
    const aead = this.server.cipher.cipher as unknown as WeriftAeadKeys | undefined;
    const { clientWriteKey, serverWriteKey, clientNonce, serverNonce } = aead ?? {};
    if (!clientWriteKey || !serverWriteKey || !clientNonce || !serverNonce) {
      throw new HopError(ErrorCode.Internal, 'werift cipher keys missing after handshake');
    }
    // The hub writes with the server's keys and reads with the client's (RFC 5246 §6.3).
    const cipher = new AesGcmRecordCipher({ key: serverWriteKey, iv: serverNonce }, { key: clientWriteKey, iv: clientNonce });
    this.recordProtection = new RecordProtection(cipher, this.server.dtls, FIRST_PROTECTED_EPOCH);
    return this.recordProtection;
  }

  /**
   * The client's final flight as werift took it (the first copy of each message), each
   * message whole: header and body. Valid once connected.
   */
  clientFinalFlight(): ClientFinalFlight {
    const messages = this.server.dtls.handshakeCache[CLIENT_FINAL_FLIGHT]?.data ?? [];
    const finished = messages.find((message) => message.msg_type === FINISHED_MESSAGE_TYPE);
    return {
      clearMessages: messages.filter((message) => message !== finished).map((message) => message.serialize()),
      finished: finished?.serialize(),
    };
  }

  /**
   * Stops werift's retransmissions and ignores anything further; the protection handed out
   * continues with its own record counter, so nothing it holds leads back to werift.
   */
  abort(): void {
    if (this.state === 'aborted') return;
    this.state = 'aborted';
    this.transport.closed = true;
    (this.server.dtls as unknown as { closed?: boolean }).closed = true;
    this.recordProtection?.detachCounter();
    this.recordProtection = undefined;
  }

  private fail(err: unknown): void {
    if (this.state !== 'handshaking') return;
    this.state = 'failed';
    this.transport.closed = true;
    (this.server.dtls as unknown as { closed?: boolean }).closed = true;
    const error = err instanceof Error ? err : new Error(errorMessageOf(err));
    this.options.onFailed(error);
  }
}
