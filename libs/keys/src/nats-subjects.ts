/**
 * Every NATS subject HopGate uses is built here and nowhere else. See docs/nats.md.
 */
export const DEFAULT_NATS_PREFIX = 'hopgate';

export class NatsSubjects {
  constructor(readonly prefix: string = DEFAULT_NATS_PREFIX) {}

  /** Everything sent to one hub node: stream opens and ingress->hub stream frames. */
  hub(hubId: string): string {
    return `${this.prefix}.hub.${token(hubId)}`;
  }

  /** Everything sent to one ingress replica: hub->ingress stream frames. */
  ingress(ingressId: string): string {
    return `${this.prefix}.ingress.${token(ingressId)}`;
  }

  /** Broadcast when a hub takes a client's session: `{ client_id, epoch, hub_id }`. */
  get sessionClaimed(): string {
    return `${this.prefix}.session.claimed`;
  }

  /** Broadcast when a certificate was issued or renewed: `{ name, not_after, serial }`. */
  get certUpdated(): string {
    return `${this.prefix}.cert.updated`;
  }

  /**
   * Inbox prefix of one kind of service (nats.js `inboxPrefix`): replies to its NATS requests
   * (PONGs to its PINGs) arrive on `_INBOX.<prefix>.<service>.<nuid>.<n>`, so the server config
   * can let each service subscribe to its own replies only (docs/nats.md, Users and permissions).
   */
  inboxPrefix(service: string): string {
    return `_INBOX.${this.prefix}.${token(service)}`;
  }
}

/** NATS subject tokens may not contain `.`, `*`, `>` or white space. */
function token(id: string): string {
  return id.replace(/[.*>\s]/g, '_');
}
