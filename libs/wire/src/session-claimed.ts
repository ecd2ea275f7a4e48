/**
 * `hopgate.session.claimed` (NATS, JSON): a hub broadcasts it after it took a client's session
 * in Redis. It is a hint, never proof: a hub that receives it confirms the newer epoch in
 * Redis before it ends its own session of that client (docs/nats.md).
 */
import { HopError, ErrorCode } from '@hopgate/errors';

/** The message: `{ "client_id": "laptop", "epoch": 42, "hub_id": "hub-2" }`. */
export interface SessionClaimed {
  client_id: string;
  /** The claiming session's epoch (a positive integer from `hopgate:session-epoch`). */
  epoch: number;
  hub_id: string;
  /** The claimed agent instance (absent from hubs before replicas: the client's only session). */
  instance_id?: string;
}

/** Largest accepted message, in bytes: ids are short; anything longer is not ours. */
export const MAX_SESSION_CLAIMED_BYTES = 1024;

export function encodeSessionClaimed(msg: SessionClaimed): string {
  return JSON.stringify({ client_id: msg.client_id, epoch: msg.epoch, hub_id: msg.hub_id, ...(msg.instance_id !== undefined ? { instance_id: msg.instance_id } : {}) });
}

/** Decodes and validates one message; throws HopError ERR_BAD_FRAME when it is not one. */
export function decodeSessionClaimed(data: Uint8Array): SessionClaimed {
  if (data.length > MAX_SESSION_CLAIMED_BYTES) throw new HopError(ErrorCode.BadFrame, `session.claimed: ${data.length} bytes (limit ${MAX_SESSION_CLAIMED_BYTES})`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (err) {
    throw new HopError(ErrorCode.BadFrame, 'session.claimed: not JSON', { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HopError(ErrorCode.BadFrame, 'session.claimed: not a JSON object');
  const o = value as Record<string, unknown>;
  const clientId = o['client_id'];
  const epoch = o['epoch'];
  const hubId = o['hub_id'];
  if (typeof clientId !== 'string' || clientId === '') throw new HopError(ErrorCode.BadFrame, 'session.claimed: bad or missing "client_id"');
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) throw new HopError(ErrorCode.BadFrame, 'session.claimed: "epoch" must be a positive integer');
  if (typeof hubId !== 'string' || hubId === '') throw new HopError(ErrorCode.BadFrame, 'session.claimed: bad or missing "hub_id"');
  const instanceId = o['instance_id'];
  if (instanceId !== undefined && (typeof instanceId !== 'string' || instanceId === '')) throw new HopError(ErrorCode.BadFrame, 'session.claimed: bad "instance_id"');
  return { client_id: clientId, epoch, hub_id: hubId, ...(instanceId !== undefined ? { instance_id: instanceId } : {}) };
}
