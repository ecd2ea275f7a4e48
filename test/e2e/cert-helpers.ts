/**
 * Helpers of the certificate tests (ingress-certs*.test.ts, acme-tls-alpn.test.ts,
 * hub-certs.test.ts): certificates into Redis the way the cert-manager stores them, the
 * `hopgate.cert.updated` broadcast, and TLS handshakes that report what the server presented.
 */
import tls from 'node:tls';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CertStore, ChallengeStore, encodeCertUpdated, type CertRecord } from '@hopgate/certs';
import { NatsSubjects } from '@hopgate/keys';
import type { DevCertificate, Stack } from '@hopgate/testkit';

/** Time a single handshake may take in these tests, in ms. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

/** Redis + NATS clients of a stack, for writing certificates and broadcasting their updates. */
export class CertControl {
  readonly store: CertStore;
  readonly challenges: ChallengeStore;

  private constructor(
    readonly redis: Redis,
    private readonly nc: NatsConnection,
  ) {
    this.store = new CertStore(redis);
    this.challenges = new ChallengeStore(redis);
  }

  static async open(stack: Stack): Promise<CertControl> {
    const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const nc = await connect({ servers: stack.nats.url });
    return new CertControl(redis, nc);
  }

  /** Stores `cert` for `name` (CertStore.putIssued, as the cert-manager does); no broadcast. */
  put(name: string, cert: DevCertificate): Promise<CertRecord> {
    return this.store.putIssued(name, cert.certPem, cert.keyPem);
  }

  /** `hopgate.cert.updated` for the record, as the cert-manager sends after an issuance. */
  async broadcast(record: CertRecord): Promise<void> {
    this.nc.publish(new NatsSubjects().certUpdated, encodeCertUpdated(record));
    await this.nc.flush();
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => undefined);
    this.redis.disconnect();
  }
}

/** What a TLS server presented. */
export interface HandshakeResult {
  serial: string;
  subject: string;
  fingerprint256: string;
  alpn: string | false;
  authorized: boolean;
}

/**
 * One TLS handshake to 127.0.0.1:`port` as `servername` (undefined: no SNI), trusting `ca`;
 * resolves with the presented certificate, rejects with node's error (its `code` names the alert).
 */
export function handshake(port: number, servername: string | undefined, ca: string | undefined, options: { alpn?: string[] } = {}): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ...(servername !== undefined ? { servername } : {}),
      ca,
      rejectUnauthorized: ca !== undefined,
      ALPNProtocols: options.alpn ?? ['http/1.1'],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no handshake with ${servername ?? '(no SNI)'} in ${HANDSHAKE_TIMEOUT_MS} ms`));
    }, HANDSHAKE_TIMEOUT_MS);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate();
      const cn = peer.subject?.CN;
      resolve({ serial: peer.serialNumber, subject: Array.isArray(cn) ? cn.join(',') : (cn ?? ''), fingerprint256: peer.fingerprint256, alpn: socket.alpnProtocol ?? false, authorized: socket.authorized });
      socket.destroy();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The serial of a PEM certificate as node's getPeerCertificate() writes it (upper-case hex). */
export function serialOf(certPem: string): string {
  return new crypto.X509Certificate(certPem).serialNumber;
}

/** Runs `openssl s_client` with stdin closed; resolves with stdout+stderr and the exit code (never rejects). */
export function opensslClient(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', ...args], { timeout: HANDSHAKE_TIMEOUT_MS * 2 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, output: `${stdout}\n${stderr}` });
    });
    child.stdin?.end();
  });
}

/** The first PEM certificate in openssl's `-showcerts` output. */
export function firstPem(output: string): string | undefined {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0];
}

/**
 * A TLS-ALPN-01 challenge certificate (RFC 8737 §3): self-signed, the name as its only
 * dNSName, and the critical acmeIdentifier extension (1.3.6.1.5.5.7.1.31) holding the
 * SHA-256 of `keyAuthorization` as an OCTET STRING. Made with openssl, as acme-client's
 * createAlpnCertificate would.
 */
export function makeAlpnChallengeCert(dir: string, name: string, keyAuthorization: string): { certPem: string; keyPem: string; digestHex: string } {
  fs.mkdirSync(dir, { recursive: true });
  const digestHex = crypto.createHash('sha256').update(keyAuthorization).digest('hex');
  const der = `04:20:${digestHex.match(/../g)!.join(':')}`;
  const keyFile = path.join(dir, `${name}.alpn.key`);
  const certFile = path.join(dir, `${name}.alpn.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '7', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-addext', `1.3.6.1.5.5.7.1.31=critical,DER:${der}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { certPem: fs.readFileSync(certFile, 'utf8'), keyPem: fs.readFileSync(keyFile, 'utf8'), digestHex };
}
