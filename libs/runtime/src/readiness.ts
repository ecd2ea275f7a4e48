/** A service's own answer to "may traffic be sent here?" (/readyz). */
export interface Readiness {
  readonly ready: boolean;
  /** Why not, in a few words (`waiting for redis`, `nats disconnected`, `draining`); absent when ready. */
  readonly reason?: string;
}

export const READY: Readiness = { ready: true };

export function notReady(reason: string): Readiness {
  return { ready: false, reason };
}

/** The first of `checks` that is not ready, else READY. */
export function firstNotReady(...checks: ReadonlyArray<Readiness | undefined>): Readiness {
  for (const check of checks) if (check && !check.ready) return check;
  return READY;
}
