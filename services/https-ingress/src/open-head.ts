import { errorMessageOf } from '@hopgate/errors';
import { encodeTunnelOpen, type TunnelOpen } from '@hopgate/http-tunnel';
import { MAX_HEAD_BYTES } from '@hopgate/relay';

export type OpenHeadResult = { ok: true; bytes: Uint8Array } | { ok: false; reason: string };

/**
 * The OPEN head of a request as the relay carries it, measured before anything is sent: a head
 * that passed HOPGATE_MAX_HEADER_BYTES can still grow past the relay's MAX_HEAD_BYTES once
 * encoded (every header becomes a JSON pair, bytes of obs-text take two, the forwarding
 * headers are added), and such a head is answered 431 at the edge rather than failing later.
 */
export function encodeOpenHead(open: TunnelOpen): OpenHeadResult {
  let bytes: Uint8Array;
  try {
    bytes = encodeTunnelOpen(open);
  } catch (err) {
    return { ok: false, reason: `request head cannot be encoded for the relay: ${errorMessageOf(err)}` };
  }
  if (bytes.byteLength > MAX_HEAD_BYTES) {
    return { ok: false, reason: `request head of ${bytes.byteLength} bytes once encoded exceeds the relay's limit of ${MAX_HEAD_BYTES}` };
  }
  return { ok: true, bytes };
}
