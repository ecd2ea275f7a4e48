import type { LiveInstance } from '@hopgate/sessions';

/** The identity of one session of one instance: a re-homed instance (new hub or epoch) is another. */
export function instanceKeyOf(clientId: string, instance: LiveInstance): string {
  return `${clientId}/${instance.instanceId}@${instance.hubId}#${instance.epoch}`;
}

/**
 * Spreads a client's requests over its live agent instances: the one with the fewest streams
 * in flight from THIS ingress (a local count; no coordination between ingresses), ties broken
 * at random so idle replicas share sequential requests too.
 */
export class InstancePicker {
  private readonly inFlight = new Map<string, number>();

  /** The chosen instance (undefined: none left once `exclude` is taken out). */
  pick(clientId: string, instances: readonly LiveInstance[], exclude?: ReadonlySet<string>): LiveInstance | undefined {
    let best: LiveInstance | undefined;
    let bestLoad = Infinity;
    let ties = 0;
    for (const instance of instances) {
      const key = instanceKeyOf(clientId, instance);
      if (exclude?.has(key)) continue;
      const load = this.inFlight.get(key) ?? 0;
      if (load < bestLoad) {
        best = instance;
        bestLoad = load;
        ties = 1;
      } else if (load === bestLoad) {
        // Reservoir sampling over the tied instances: each is chosen with probability 1/ties.
        ties += 1;
        if (Math.random() * ties < 1) best = instance;
      }
    }
    return best;
  }

  /** Counts a stream to `key` until the returned function is called (idempotent). */
  acquire(key: string): () => void {
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
  }

  /** Streams in flight to `key` from this ingress (tests, metrics). */
  load(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }
}
