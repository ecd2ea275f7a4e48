import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from '@hopgate/log';
import { errorMessageOf } from '@hopgate/errors';

/** RFC 8737 §6.2: the ALPN protocol of the TLS-ALPN-01 validation. */
export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';
/** A TLS-ALPN-01 handshake must finish within this many ms, or the connection is closed. */
export const ACME_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Answers a TLS-ALPN-01 validation on `socket` (the ClientHello already put back): a TLS
 * handshake with the challenge certificate (acmeIdentifier extension) and `acme-tls/1`
 * negotiated (RFC 8737 §3), then close: no application data follows (RFC 8737 §4).
 */
export function answerTlsAlpn01(socket: Socket, serverName: string, challenge: { certPem: string; keyPem: string }, logger: Logger): void {
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ cert: challenge.certPem, key: challenge.keyPem });
  } catch (err) {
    logger.warn({ server_name: serverName, reason: errorMessageOf(err) }, 'acme tls-alpn-01: stored challenge certificate unusable: closing');
    socket.destroy();
    return;
  }
  const tlsSocket = new tls.TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL] });
  const timer = setTimeout(() => {
    logger.info({ server_name: serverName }, 'acme tls-alpn-01: handshake not finished in time: closing');
    tlsSocket.destroy();
  }, ACME_TLS_HANDSHAKE_TIMEOUT_MS);
  timer.unref();
  tlsSocket.once('close', () => clearTimeout(timer));
  tlsSocket.on('error', (err: Error & { code?: string }) => {
    logger.info({ server_name: serverName, code: err.code, reason: err.message }, 'acme tls-alpn-01: handshake failed');
    tlsSocket.destroy();
  });
  tlsSocket.once('secure', () => {
    logger.info({ server_name: serverName, remote: socket.remoteAddress, alpn: tlsSocket.alpnProtocol }, 'acme tls-alpn-01: challenge answered');
    // Whatever arrives now is not for us (RFC 8737 §4): drop it and close.
    tlsSocket.on('data', () => undefined);
    tlsSocket.end();
  });
}
