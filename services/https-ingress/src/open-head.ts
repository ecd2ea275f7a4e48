import { errorMessageOf } from '@hopgate/errors';
import { MAX_HEAD_BYTES } from '@hopgate/relay';
import { encodeMessage, encodeRelayOpen, type RelayEnvelope, type RequestHead } from '@hopgate/wire';

export type OpenHeadResult = { ok: true; bytes: Uint8Array } | { ok: false; reason: string };

/**
 * The request head encoded once (binary, @hopgate/wire), then put behind each envelope it is
 * sent with (a retry to another instance reuses the bytes).
 */
export function encodeRequestHead(head: RequestHead): { ok: true; bytes: Uint8Array } | { ok: false; reason: string } {
  try {
    return { ok: true, bytes: encodeMessage(head) };
  } catch (err) {
    return { ok: false, reason: `request head cannot be encoded for the relay: ${errorMessageOf(err)}` };
  }
}

/**
 * The OPEN head of a request as the relay carries it, measured before anything is sent: a head
 * that passed HOPGATE_MAX_HEADER_BYTES can still grow past the relay's MAX_HEAD_BYTES once
 * encoded (bytes of obs-text take two in UTF-8, the forwarding headers are added), and such a
 * head is answered 431 at the edge rather than failing later.
 */
export function encodeOpenHead(envelope: RelayEnvelope, requestHead: Uint8Array): OpenHeadResult {
  let bytes: Uint8Array;
  try {
    bytes = encodeRelayOpen(envelope, requestHead);
  } catch (err) {
    return { ok: false, reason: `request head cannot be encoded for the relay: ${errorMessageOf(err)}` };
  }
  if (bytes.byteLength > MAX_HEAD_BYTES) {
    return { ok: false, reason: `request head of ${bytes.byteLength} bytes once encoded exceeds the relay's limit of ${MAX_HEAD_BYTES}` };
  }
  return { ok: true, bytes };
}
