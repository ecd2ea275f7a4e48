import { X509Certificate, createPrivateKey } from 'node:crypto';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';

/**
 * Where a certificate name stands (field `status` of `hopgate:cert:<name>`):
 * - `pending`: wanted (a route host, HOPGATE_ACME_DOMAINS or HOPGATE_HUB_NAME), order queued;
 * - `issuing`: an order runs and no certificate exists yet;
 * - `renewing`: an order runs while the current certificate is still served;
 * - `valid`: a certificate is stored;
 * - `failed`: the last order failed (`last_error`); a stored certificate is still served until it expires;
 * - `not_issuable`: this name cannot be issued with the configured challenge (a wildcard needs DNS-01).
 */
export const CERT_STATUSES = ['pending', 'issuing', 'renewing', 'valid', 'failed', 'not_issuable'] as const;
export type CertStatus = (typeof CERT_STATUSES)[number];

/** One `hopgate:cert:<name>` hash, parsed. Times are epoch milliseconds. */
export interface CertRecord {
  readonly name: string;
  readonly status: CertStatus;
  /** Leaf first, then intermediates. */
  readonly chainPem: string | undefined;
  readonly keyPem: string | undefined;
  readonly notBefore: number | undefined;
  readonly notAfter: number | undefined;
  /** The issuer's distinguished name, one line. */
  readonly issuer: string | undefined;
  /** Serial number of the leaf, hex. */
  readonly serial: string | undefined;
  readonly lastError: string | undefined;
  /** When the last order started. */
  readonly lastAttemptAt: number | undefined;
  /** When the renewal is due (start of the last third of the lifetime). */
  readonly renewAt: number | undefined;
  readonly updatedAt: number | undefined;
}

/** What the stored PEM says about itself. */
export interface CertificateFacts {
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuer: string;
  readonly serial: string;
  /** DNS names in subjectAltName. */
  readonly dnsNames: string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into certificates (leaf first); throws on an unparsable one. */
export function parseChain(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block));
}

/** Reads validity, issuer, serial and DNS names of a chain's leaf; throws HopError(BadCert) on bad PEM. */
export function certificateFacts(chainPem: string): CertificateFacts {
  let leaf: X509Certificate | undefined;
  try {
    leaf = parseChain(chainPem)[0];
  } catch (err) {
    throw new HopError(ErrorCode.BadCert, `certificate PEM unreadable: ${errorMessageOf(err)}`, { cause: err });
  }
  if (!leaf) throw new HopError(ErrorCode.BadCert, 'certificate PEM holds no certificate');
  const dnsNames = (leaf.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length).toLowerCase());
  return {
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    serial: leaf.serialNumber,
    dnsNames,
  };
}

/** Throws HopError(BadCert) unless `keyPem` is a private key that matches the leaf of `chainPem`. */
export function assertKeyMatches(chainPem: string, keyPem: string): void {
  try {
    const leaf = parseChain(chainPem)[0];
    if (!leaf) throw new Error('no certificate in the chain');
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not match the certificate');
  } catch (err) {
    throw new HopError(ErrorCode.BadCert, `certificate and key: ${errorMessageOf(err)}`, { cause: err });
  }
}

/** True when the record holds a certificate and key that are inside their validity at `now`. */
export function isServable(record: CertRecord | undefined, now: number = Date.now()): record is CertRecord & { chainPem: string; keyPem: string } {
  return (
    record !== undefined &&
    record.chainPem !== undefined &&
    record.keyPem !== undefined &&
    record.notAfter !== undefined &&
    record.notAfter > now
  );
}

/** Start of the last third of a certificate's lifetime: when its renewal is due. */
export function renewalDueAt(notBefore: number, notAfter: number): number {
  return notAfter - Math.floor((notAfter - notBefore) / RENEW_WHEN_REMAINING_FRACTION_DENOMINATOR);
}

/** Renew when 1/3 of the lifetime remains (issue 5; Let's Encrypt's own advice for 90-day certificates). */
export const RENEW_WHEN_REMAINING_FRACTION_DENOMINATOR = 3;
