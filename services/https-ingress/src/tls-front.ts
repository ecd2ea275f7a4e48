import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '@hopgate/log';
import type { ChallengeStore } from '@hopgate/certs';
import { errorMessageOf } from '@hopgate/errors';
import { ClientHelloReader, MAX_CLIENT_HELLO_BYTES, MAX_TLS_PLAINTEXT_BYTES, TLS_RECORD_HEADER_BYTES, type TlsClientHello } from './tls-client-hello.js';
import type { CertificateContexts } from './certificate-contexts.js';
import { ACME_TLS_ALPN_PROTOCOL, answerTlsAlpn01 } from './acme-tls-alpn01.js';

/**
 * Bytes buffered per connection while its ClientHello is incomplete: the largest accepted
 * ClientHello plus the headers of the records it can span (RFC 8446 §5.1).
 */
export const MAX_CLIENT_HELLO_BUFFER_BYTES = MAX_CLIENT_HELLO_BYTES + TLS_RECORD_HEADER_BYTES * (Math.ceil(MAX_CLIENT_HELLO_BYTES / MAX_TLS_PLAINTEXT_BYTES) + 2);

/** TLS alert descriptions sent before the handshake (RFC 8446 §6.2). */
export const TlsAlert = {
  /** RFC 6066 §3: the server has no certificate for the name asked. */
  unrecognizedName: 112,
  /** RFC 8446 §9.2: the server requires SNI and the client sent none. */
  missingExtension: 109,
} as const;

/** A fatal alert as a plaintext TLS record: type 21, version 3.3, length 2, level fatal(2) (RFC 8446 §6). */
export function tlsAlertRecord(description: number): Buffer {
  return Buffer.from([21, 3, 3, 0, 2, 2, description]);
}

/** After a refusal alert, the client has this many ms to close its side before the socket is destroyed. */
export const ALERT_LINGER_MS = 2_000;

/** Sends a fatal alert and closes; what the client still sends is read and dropped, so the close stays a FIN, not a RST. */
function refuse(socket: Socket, description: number): void {
  socket.on('data', () => undefined);
  socket.resume();
  socket.end(tlsAlertRecord(description));
  setTimeout(() => socket.destroy(), ALERT_LINGER_MS).unref();
}

export interface TlsFrontOptions {
  /** The HTTP/2 + HTTP/1.1 server that terminates every ordinary TLS connection. */
  server: tls.Server;
  certificates: CertificateContexts;
  challenges: ChallengeStore;
  logger: Logger;
}

/**
 * Sits in front of the HTTPS server on the public TCP port: reads the ClientHello (bounded in
 * size here, in time by the connection's handshake deadline, handshake-deadline.ts) without
 * consuming it, then
 * - `acme-tls/1` offered and a TLS-ALPN-01 challenge stored for the name: answers with the
 *   challenge certificate and closes (RFC 8737 §3, §4);
 * - a certificate exists for the name (Redis, wildcard or default file): hands the socket,
 *   bytes put back, to the HTTPS server, whose SNICallback finds it in the same cache;
 * - no certificate: a fatal unrecognized_name alert (RFC 6066 §3), or missing_extension
 *   without SNI (RFC 8446 §9.2), and close;
 * - not a TLS ClientHello: close.
 */
export function handleTlsConnection(socket: Socket, options: TlsFrontOptions): void {
  const log = options.logger;
  const reader = new ClientHelloReader();
  const onError = (): void => undefined;
  const onData = (chunk: Buffer): void => {
    const parsed = reader.push(chunk);
    if (parsed.status === 'incomplete') {
      if (reader.receivedBytes <= MAX_CLIENT_HELLO_BUFFER_BYTES) return;
      log.debug({ remote: socket.remoteAddress, bytes: reader.receivedBytes }, 'tls: ClientHello too large: closing');
      finish();
      socket.destroy();
      return;
    }
    finish();
    if (parsed.status === 'invalid') {
      log.debug({ remote: socket.remoteAddress, reason: parsed.reason }, 'tls: not a TLS ClientHello: closing');
      socket.destroy();
      return;
    }
    socket.pause();
    void dispatch(socket, parsed.hello, reader.bytes(), options).catch((err: unknown) => {
      log.warn({ err: errorMessageOf(err), remote: socket.remoteAddress }, 'tls: connection dispatch failed: closing');
      socket.destroy();
    });
  };
  const finish = (): void => {
    socket.off('data', onData);
  };
  socket.on('error', onError);
  socket.on('data', onData);
}

async function dispatch(socket: Socket, hello: TlsClientHello, bytes: Buffer, options: TlsFrontOptions): Promise<void> {
  const name = hello.serverName;
  if (name !== undefined && hello.alpnProtocols.includes(ACME_TLS_ALPN_PROTOCOL)) {
    let challenge: { certPem: string; keyPem: string } | undefined;
    try {
      challenge = await options.challenges.getTlsAlpn01(name.toLowerCase());
    } catch (err) {
      options.logger.warn({ server_name: name, err: errorMessageOf(err) }, 'acme tls-alpn-01: challenge lookup failed: closing');
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    if (challenge) {
      socket.unshift(bytes);
      answerTlsAlpn01(socket, name, challenge, options.logger);
      return;
    }
    // No challenge: the ordinary server answers, and refuses acme-tls/1 (no_application_protocol, RFC 7301 §3.2).
    options.logger.info({ server_name: name }, 'acme tls-alpn-01: no challenge stored for this name');
  }
  const selected = await options.certificates.select(name);
  if (socket.destroyed) return;
  if (!selected) {
    const alert = name === undefined ? 'missing_extension' : 'unrecognized_name';
    options.certificates.complainMissing(name, alert);
    refuse(socket, name === undefined ? TlsAlert.missingExtension : TlsAlert.unrecognizedName);
    return;
  }
  socket.unshift(bytes);
  options.server.emit('connection', socket);
}
