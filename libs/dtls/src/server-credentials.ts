import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';

/** werift's (hash, signature) pair: SHA-256 with RSA (1) or ECDSA (3) (RFC 5246 §7.4.1.4.1). */
export interface SignatureHash {
  hash: 4;
  signature: 1 | 3;
}

/** A validated server certificate chain and key in the forms werift-dtls accepts. */
export interface ServerCredentials {
  /** Leaf first, then intermediates, re-encoded as PEM. */
  readonly certChainPem: string;
  /** The private key as PKCS#8 PEM (werift's parser wants PKCS#8). */
  readonly keyPkcs8Pem: string;
  readonly signatureHash: SignatureHash;
  readonly leaf: X509Certificate;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into certificates; throws on an unparsable one. */
export function parsePemCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block));
}

function signatureHashFor(key: KeyObject): SignatureHash {
  if (key.asymmetricKeyType === 'rsa') return { hash: 4, signature: 1 };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'secp384r1') return { hash: 4, signature: 3 };
    throw new HopError(ErrorCode.BadConfig, `DTLS key: unsupported EC curve ${curve ?? 'unknown'} (use P-256)`);
  }
  throw new HopError(ErrorCode.BadConfig, `DTLS key: unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use P-256 ECDSA or RSA)`);
}

/**
 * Validates a PEM chain (leaf first) and its key (PKCS#8, SEC1 or PKCS#1; P-256/P-384 ECDSA
 * or RSA) and converts them for werift. Throws HopError(BadConfig) with the reason.
 */
export function loadServerCredentials(certPem: string, keyPem: string): ServerCredentials {
  let chain: X509Certificate[];
  let key: KeyObject;
  try {
    chain = parsePemCertificates(certPem);
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new HopError(ErrorCode.BadConfig, `DTLS certificate or key unreadable: ${errorMessageOf(err)}`, { cause: err });
  }
  const leaf = chain[0];
  if (!leaf) throw new HopError(ErrorCode.BadConfig, 'DTLS certificate PEM holds no certificate');
  if (!leaf.checkPrivateKey(key)) {
    throw new HopError(ErrorCode.BadConfig, `DTLS key does not match the certificate ${leaf.subject.replace(/\n/g, ', ')}`);
  }
  const signatureHash = signatureHashFor(key);
  return {
    certChainPem: chain.map((cert) => cert.toString()).join(''),
    keyPkcs8Pem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    signatureHash,
    leaf,
  };
}
