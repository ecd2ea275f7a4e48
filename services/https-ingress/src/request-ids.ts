import { randomBytes } from 'node:crypto';

/** Random per-process part of a request id, so that a restarted ingress never reuses one: bytes (hex in the id). */
export const REQUEST_ID_BOOT_NONCE_BYTES = 4;

/**
 * The ingress mints every request id: `<ingress id>-<boot nonce>-<counter>`, unique across the
 * cluster (ingress ids are unique, the nonce tells restarts apart). The id names the request
 * everywhere: the `x-request-id` response header, error bodies, the access lines of the
 * ingress, the hub and the agent, and the relay stream it travels on (RelayClient.open checks
 * that it starts with this ingress's id, so no ingress can take over another's streams on a hub).
 */
export class RequestIds {
  readonly prefix: string;
  private counter = 0;

  constructor(ingressId: string) {
    this.prefix = `${ingressId}-${randomBytes(REQUEST_ID_BOOT_NONCE_BYTES).toString('hex')}-`;
  }

  next(): string {
    this.counter += 1;
    return `${this.prefix}${this.counter}`;
  }
}
