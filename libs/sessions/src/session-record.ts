/** Field names of a session hash `hopgate:session:<client_id>` (docs/redis.md). */
export const SESSION_FIELDS = {
  hub: 'hub',
  epoch: 'epoch',
  connectedAt: 'connected_at',
  remote: 'remote',
} as const;

/** Who holds a client's agent session. */
export interface SessionRecord {
  readonly clientId: string;
  /** `hub`: id of the owning hub. */
  readonly hubId: string;
  /** `epoch`: from the cluster-wide counter; a higher epoch replaces a lower one. */
  readonly epoch: number;
  /** `connected_at`: when the agent connected, in ms since the Unix epoch (decimal integer). */
  readonly connectedAt: number;
  /** `remote`: the agent's address as the hub saw it (`ip:port`). */
  readonly remote: string;
}

const DECIMAL_POSITIVE = /^[1-9][0-9]*$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Decodes a session hash; undefined when any field is missing or malformed (then it counts as absent). */
export function parseSessionRecord(clientId: string, hash: Record<string, string>): SessionRecord | undefined {
  const hubId = hash[SESSION_FIELDS.hub];
  const epochText = hash[SESSION_FIELDS.epoch];
  const connectedText = hash[SESSION_FIELDS.connectedAt];
  const remote = hash[SESSION_FIELDS.remote];
  if (!hubId || remote === undefined || epochText === undefined || connectedText === undefined) return undefined;
  if (!DECIMAL_POSITIVE.test(epochText) || !DECIMAL.test(connectedText)) return undefined;
  const epoch = Number(epochText);
  const connectedAt = Number(connectedText);
  if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(connectedAt)) return undefined;
  return { clientId, hubId, epoch, connectedAt, remote };
}
