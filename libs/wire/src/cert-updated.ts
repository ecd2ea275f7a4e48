/**
 * `hopgate.cert.updated` (NATS, JSON, rare: one per issued certificate): the cert-manager
 * broadcasts it after it stored a certificate; every ingress and hub reloads that name from
 * Redis (docs/nats.md). A hint: a missed one is made up by the periodic reload.
 */

/** The message: `{ "name": "app.example.com", "not_after": "2027-03-01T00:00:00.000Z", "serial": "0a1b..." }`. */
export interface CertUpdated {
  readonly name: string;
  /** ISO 8601, or "" when unknown. */
  readonly not_after: string;
  /** Hex, or "" when unknown. */
  readonly serial: string;
}

export function encodeCertUpdated(msg: CertUpdated): Uint8Array {
  return Buffer.from(JSON.stringify({ name: msg.name, not_after: msg.not_after, serial: msg.serial }), 'utf8');
}

/** The name in a `hopgate.cert.updated` message, or undefined when malformed. */
export function decodeCertUpdated(data: Uint8Array): string | undefined {
  try {
    const msg = JSON.parse(Buffer.from(data).toString('utf8')) as { name?: unknown };
    return typeof msg.name === 'string' && msg.name.length > 0 ? msg.name : undefined;
  } catch {
    return undefined;
  }
}
