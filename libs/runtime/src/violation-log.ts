import type { Logger } from '@hopgate/log';

/**
 * Shortest time between two log lines about NATS permission violations of one operation
 * (publish, subscription), in ms: a refused subject on a hot path must not flood the log.
 */
export const PERMISSION_VIOLATION_LOG_INTERVAL_MS = 10_000;

type Operation = 'publish' | 'subscription';

/**
 * Logs NATS permission violations (the server refused a publish or a subscription for this
 * user): the first of each operation at once, then at most one line per
 * PERMISSION_VIOLATION_LOG_INTERVAL_MS with the number left out since the last line. The
 * connection stays up: nats.js drops the refused message, and closes a refused subscription.
 */
export class ViolationLog {
  private readonly total = { publish: 0, subscription: 0 };
  private readonly unlogged = { publish: 0, subscription: 0 };
  private readonly lastLoggedAt = { publish: -Infinity, subscription: -Infinity };

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Violations seen since the connection was made, per operation. */
  get counts(): Readonly<Record<Operation, number>> {
    return { ...this.total };
  }

  record(operation: Operation, subject: string): void {
    this.total[operation] += 1;
    const now = this.now();
    if (now - this.lastLoggedAt[operation] < PERMISSION_VIOLATION_LOG_INTERVAL_MS) {
      this.unlogged[operation] += 1;
      return;
    }
    this.lastLoggedAt[operation] = now;
    const fields = {
      operation,
      nats_subject: subject,
      violations_total: this.total[operation],
      violations_not_logged: this.unlogged[operation],
    };
    this.unlogged[operation] = 0;
    if (operation === 'publish') {
      this.log.warn(fields, 'nats: permission violation: the server refused a publish for this user (message dropped); check its publish permissions');
    } else {
      this.log.warn(fields, 'nats: permission violation: the server refused a subscription for this user (nothing arrives on it); check its subscribe permissions');
    }
  }
}
