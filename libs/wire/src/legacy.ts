/**
 * What a hub still says to an agent of wire version 1 (JSON payloads): one hello_reject in that
 * version's encoding, `[u32 length][u8 tag][JSON {code, reason}]` after a version-1 preface, so
 * the old agent logs the reason ("upgrade the agent") instead of failing to decode our preface.
 */
import { ErrorCode } from '@hopgate/errors';
import { encodePreface } from './codec.js';
import { MessageTag, WIRE_VERSION } from './messages.js';

/** The wire version before binary heads. */
export const LEGACY_WIRE_VERSION = 1;

/** The reason an agent of an older wire version hears. */
export function upgradeAgentReason(agentVersion: number): string {
  return `this agent speaks wire version ${agentVersion}, the hub speaks ${WIRE_VERSION}: upgrade the agent (hopgate-agent) to the hub's release`;
}

/** Version-1 preface + version-1 hello_reject ERR_BAD_VERSION with `reason`. */
export function encodeLegacyRejection(reason: string): Buffer {
  const json = Buffer.from(JSON.stringify({ code: ErrorCode.BadVersion, reason }), 'utf8');
  const out = Buffer.allocUnsafe(4 + 1 + json.length);
  out.writeUInt32BE(1 + json.length, 0);
  out[4] = MessageTag.hello_reject;
  json.copy(out, 5);
  return Buffer.concat([encodePreface(LEGACY_WIRE_VERSION), out]);
}
