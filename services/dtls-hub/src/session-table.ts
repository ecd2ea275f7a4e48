import type { AgentSession } from './agent-session.js';

/**
 * Instance id the hub gives an agent whose hello has no `instance_id` (agents from before
 * replicas). One per client, so such agents fence each other as before. It cannot collide
 * with a configured id: those start with a letter or digit (ID_PATTERN).
 */
export const LEGACY_INSTANCE_ID = '_single';

/** The hub's live agent sessions: client id -> instance id -> session. */
export class SessionTable {
  private readonly byClient = new Map<string, Map<string, AgentSession>>();

  get(clientId: string, instanceId: string): AgentSession | undefined {
    return this.byClient.get(clientId)?.get(instanceId);
  }

  /** Registers `session`; returns the session it displaced (same client and instance), if any. */
  set(session: AgentSession): AgentSession | undefined {
    const { clientId, instanceId } = session.info;
    let instances = this.byClient.get(clientId);
    if (!instances) {
      instances = new Map();
      this.byClient.set(clientId, instances);
    }
    const older = instances.get(instanceId);
    instances.set(instanceId, session);
    return older;
  }

  /** Removes `session` if it is still the registered one of its instance. */
  delete(session: AgentSession): void {
    const { clientId, instanceId } = session.info;
    const instances = this.byClient.get(clientId);
    if (instances?.get(instanceId) !== session) return;
    instances.delete(instanceId);
    if (instances.size === 0) this.byClient.delete(clientId);
  }

  /**
   * The session a request for `clientId` goes to: the named instance's while it is open (even
   * draining: a stream that still arrives for it is served), else the open session of the
   * client with the fewest streams in flight, non-draining ones first.
   */
  pick(clientId: string, instanceId: string | undefined): AgentSession | undefined {
    const instances = this.byClient.get(clientId);
    if (!instances) return undefined;
    if (instanceId !== undefined) {
      const named = instances.get(instanceId);
      if (named?.isOpen) return named;
    }
    let best: AgentSession | undefined;
    for (const session of instances.values()) {
      if (!session.isOpen) continue;
      if (!best || rank(session) < rank(best)) best = session;
    }
    return best;
  }

  values(): AgentSession[] {
    const all: AgentSession[] = [];
    for (const instances of this.byClient.values()) all.push(...instances.values());
    return all;
  }

  /** Number of sessions. */
  get size(): number {
    let n = 0;
    for (const instances of this.byClient.values()) n += instances.size;
    return n;
  }
}

/** Draining sessions rank after every other; then fewer streams in flight first. */
function rank(session: AgentSession): number {
  return (session.draining ? 1e9 : 0) + session.streamsInFlight;
}
