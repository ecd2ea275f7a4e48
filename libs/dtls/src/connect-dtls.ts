import type { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIPv6 } from 'node:net';
import dtls, { type NodertcAlertError } from '@nodertc/dtls';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import { type Logger, silentLogger } from '@hopgate/log';
import { CLIENT_HANDSHAKE_RETRANSMISSIONS, DEFAULT_HANDSHAKE_TIMEOUT_MS, UDP_SOCKET_BUFFER_BYTES } from './constants.js';
import { DtlsClientLink } from './client-link.js';
import { ConnectedUdpSocket } from './connected-udp-socket.js';
import { loadTrustAnchors, verifyServerChain } from './verify-chain.js';

export interface DtlsClientOptions {
  /** Hub host name or IP address. */
  host: string;
  /** Hub UDP port. */
  port: number;
  /** Name verified against the hub certificate (DNS name or IP). */
  serverName: string;
  /** PEM bundle of trusted CAs; default: Node's tls.rootCertificates. */
  ca?: string;
  /** Handshake deadline; default DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  handshakeTimeoutMs?: number;
  /** Default silentLogger(); pass a child logger named for the component. */
  logger?: Logger;
}

/** The cipher suites offered: AES-128-GCM only, so the record overhead is 37 B (RFC 5289 §3.2). */
const OFFERED_CIPHER_SUITES = ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'];

/** Resolves the hub, preferring IPv4 (hubs listen on 0.0.0.0 by default). */
async function resolveHub(host: string): Promise<{ address: string; family: number }> {
  const addresses = await lookup(host, { all: true });
  const chosen = addresses.find((candidate) => candidate.family === 4) ?? addresses[0];
  if (!chosen) throw new HopError(ErrorCode.BadConfig, `hub host ${host} has no address`);
  return chosen;
}

/**
 * Opens a DTLS 1.2 session to a hub and verifies its certificate chain and name.
 * Rejects with HopError(CertVerify) for another CA, another name or an expired certificate,
 * HopError(Timeout) when the hub does not complete the handshake in time, and
 * HopError(Unavailable) at once when the hub's address answers with an ICMP port unreachable,
 * and HopError(Protocol) when the handshake fails otherwise. The UDP socket is connected to the
 * hub (ConnectedUdpSocket), so a hub that dies later is noticed the same way (DtlsClientLink).
 */
export async function connectDtls(options: DtlsClientOptions): Promise<DtlsClientLink> {
  const logger = options.logger ?? silentLogger();
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  let trusted: X509Certificate[];
  try {
    trusted = loadTrustAnchors(options.ca);
  } catch (err) {
    throw new HopError(ErrorCode.BadConfig, `unreadable CA bundle: ${errorMessageOf(err)}`, { cause: err });
  }
  if (trusted.length === 0) throw new HopError(ErrorCode.BadConfig, 'the CA bundle holds no certificate');
  const resolved = await resolveHub(options.host);
  const remote = isIPv6(resolved.address) ? `[${resolved.address}]:${options.port}` : `${resolved.address}:${options.port}`;

  let certificateProblem: string | null = null;
  let udp: ConnectedUdpSocket;
  try {
    udp = await ConnectedUdpSocket.open({
      type: resolved.family === 6 ? 'udp6' : 'udp4',
      address: resolved.address,
      port: options.port,
      bufferBytes: UDP_SOCKET_BUFFER_BYTES,
    });
  } catch (err) {
    throw new HopError(ErrorCode.Unavailable, `cannot open a UDP socket to ${remote}: ${errorMessageOf(err)}`, { cause: err });
  }
  const socket = dtls.connect({
    socket: udp,
    cipherSuites: OFFERED_CIPHER_SUITES,
    maxHandshakeRetransmissions: CLIENT_HANDSHAKE_RETRANSMISSIONS,
    checkServerIdentity: (_leaf, chain) => {
      certificateProblem = verifyServerChain(chain, { serverName: options.serverName, trusted });
      return certificateProblem === null;
    },
  });

  return new Promise<DtlsClientLink>((resolve, reject) => {
    let settled = false;
    let peerCertificate: X509Certificate | undefined;
    const fail = (err: HopError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      logger.warn({ remote, server_name: options.serverName, reason: err.message }, 'dtls handshake failed');
      setImmediate(() => socket.close());
      reject(err);
    };
    const timer = setTimeout(() => {
      fail(new HopError(ErrorCode.Timeout, `DTLS handshake with ${remote} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: NodertcAlertError): void => {
      if (certificateProblem !== null) {
        fail(new HopError(ErrorCode.CertVerify, `hub certificate refused: ${certificateProblem}`));
      } else if (err.alertDescription !== undefined) {
        fail(new HopError(ErrorCode.Protocol, `DTLS handshake with ${remote} failed: alert ${err.alertDescription}`, { cause: err }));
      } else {
        fail(new HopError(ErrorCode.Protocol, `DTLS handshake with ${remote} failed: ${err.message}`, { cause: err }));
      }
    };
    socket.on('error', onError);
    // ICMP port unreachable: nothing listens at the hub's port; no need to wait for the timeout.
    const onUnreachable = (): void => fail(new HopError(ErrorCode.Unavailable, `hub ${remote} is unreachable: ICMP port unreachable (nothing listens on its UDP port)`));
    udp.on('unreachable', onUnreachable);
    socket.once('timeout', () => fail(new HopError(ErrorCode.Timeout, `DTLS handshake with ${remote}: no answer`)));
    socket.once('certificate', (certificate: X509Certificate) => {
      peerCertificate = certificate;
    });
    socket.once('connect', () => {
      if (settled) return;
      if (!peerCertificate) {
        fail(new HopError(ErrorCode.CertVerify, `hub ${remote} completed the handshake without a certificate`));
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.off('error', onError);
      udp.off('unreachable', onUnreachable);
      logger.debug({ remote, server_name: options.serverName }, 'dtls session established');
      resolve(new DtlsClientLink(socket, udp, peerCertificate, remote, logger));
    });
  }).finally(() => {
    // Keep one error listener after a failure so late stream errors never go uncaught.
    if (socket.listenerCount('error') === 0) socket.on('error', () => undefined);
  });
}
