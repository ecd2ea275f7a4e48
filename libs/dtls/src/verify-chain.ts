import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { MAX_CERT_CHAIN_DEPTH } from './constants.js';
import { parsePemCertificates } from './server-credentials.js';

/** Extended key usage OID for TLS server authentication (RFC 5280 §4.2.1.12). */
const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

export interface ChainVerifyOptions {
  /** Name the leaf must be valid for (DNS name or IP address). */
  serverName: string;
  /** Trust anchors. */
  trusted: readonly X509Certificate[];
  /** Clock for validity checks; default now. */
  now?: Date;
}

/** Trust anchors: the `ca` PEM bundle when given, else Node's bundled root CAs. */
export function loadTrustAnchors(caPem?: string): X509Certificate[] {
  if (caPem !== undefined) return parsePemCertificates(caPem);
  return rootCertificates.map((pem) => new X509Certificate(pem));
}

function describe(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

function validityProblem(cert: X509Certificate, now: Date): string | null {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return `certificate ${describe(cert)} has unreadable validity dates`;
  if (now < from) return `certificate ${describe(cert)} is not valid before ${cert.validFrom}`;
  if (now > to) return `certificate ${describe(cert)} expired on ${cert.validTo}`;
  return null;
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  return child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

/**
 * Verifies a server's chain (DER, leaf first) as a TLS client does (RFC 5280 §6, simplified):
 * the leaf names `serverName` (RFC 6125 via checkHost/checkIP) and allows server auth; each
 * certificate is within its validity dates and signed by the next one up, through CA
 * intermediates the server sent, to a trusted anchor (or the leaf itself is trusted).
 * Returns null when the chain is good, else the reason it is refused.
 */
export function verifyServerChain(chainDer: readonly Buffer[], options: ChainVerifyOptions): string | null {
  const now = options.now ?? new Date();
  let chain: X509Certificate[];
  try {
    chain = chainDer.map((der) => new X509Certificate(der));
  } catch {
    return 'the server sent an unparsable certificate';
  }
  const leaf = chain[0];
  if (!leaf) return 'the server sent no certificate';

  const nameOk = isIP(options.serverName) ? leaf.checkIP(options.serverName) : leaf.checkHost(options.serverName);
  if (nameOk === undefined) {
    return `certificate ${describe(leaf)} is not valid for the name ${options.serverName}`;
  }
  const eku = leaf.keyUsage;
  if (Array.isArray(eku) && eku.length > 0 && !eku.includes(EKU_SERVER_AUTH)) {
    return `certificate ${describe(leaf)} is not allowed for server authentication`;
  }

  const intermediates = chain.slice(1);
  let current = leaf;
  for (let depth = 0; depth <= MAX_CERT_CHAIN_DEPTH; depth += 1) {
    const problem = validityProblem(current, now);
    if (problem) return problem;
    if (options.trusted.some((anchor) => anchor.fingerprint256 === current.fingerprint256)) return null;
    const anchor = options.trusted.find((candidate) => signedBy(current, candidate));
    if (anchor) return validityProblem(anchor, now);
    const next = intermediates.find((candidate) => candidate.ca && signedBy(current, candidate));
    if (!next) {
      return `certificate ${describe(current)} is not signed by a trusted CA (issuer ${current.issuer.replace(/\n/g, ', ')})`;
    }
    current = next;
  }
  return `certificate chain longer than ${MAX_CERT_CHAIN_DEPTH}`;
}
