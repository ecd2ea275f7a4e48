import type { Readable, Writable } from 'node:stream';
import type { HeaderPairs, ResponseHead } from '@hopgate/wire';

/**
 * An agent is not trusted to frame HTTP: the ingress checks every response head before a byte
 * of it reaches the browser, and keeps the body within the framing the head announced.
 */

/** RFC 9110 §5.6.2: a field name is a token of tchars. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * RFC 9110 §5.5: a field value is visible characters, obs-text, SP and HTAB; CR, LF and NUL
 * must never pass, and other control characters are refused too (node's own rule, so writing
 * the head can never throw half-way).
 */
const INVALID_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** RFC 9110 §8.6: Content-Length = 1*DIGIT. */
const CONTENT_LENGTH = /^[0-9]{1,15}$/;

/** Statuses of a final response (RFC 9110 §15). */
const MIN_FINAL_STATUS = 200;
const MAX_STATUS = 599;
/** RFC 9110 §15.2.2: Switching Protocols, only as the answer to an Upgrade. */
const SWITCHING_PROTOCOLS = 101;

/** The headers the ingress sets itself on every proxied answer; an agent's copy is dropped. */
export const REQUEST_ID_HEADER = 'x-hopgate-request-id';

export interface CheckedResponseHead {
  status: number;
  /** The agent's headers, checked, with at most one Content-Length and none of the edge's own. */
  headers: HeaderPairs;
  /** The body's length by Content-Length, when the response has one and may have a body. */
  contentLength: number | undefined;
  /** False for HEAD, 204 and 304 (RFC 9110 §6.4.1): body bytes from the agent are dropped. */
  bodyAllowed: boolean;
}

export type ResponseHeadCheck = { ok: true; head: CheckedResponseHead } | { ok: false; reason: string };

/**
 * Checks an agent's response head for a request with `method`: the status (200-599, or 101 when
 * `upgrade` asked for it), every header name (a token) and value (no CR, LF, NUL or other
 * control character), and Content-Length (digits; repeated only with the same value,
 * RFC 9110 §8.6). Returns the head as the browser may see it, or the reason it may not.
 */
export function checkResponseHead(head: ResponseHead, method: string, upgrade: boolean): ResponseHeadCheck {
  const { status } = head;
  const statusOk = (status >= MIN_FINAL_STATUS && status <= MAX_STATUS) || (upgrade && status === SWITCHING_PROTOCOLS);
  if (!Number.isInteger(status) || !statusOk) {
    return { ok: false, reason: `status ${status} is not allowed here (${upgrade ? '101 or ' : ''}200-599)` };
  }
  const headers: HeaderPairs = [];
  let contentLength: string | undefined;
  for (const [name, value] of head.headers) {
    if (!FIELD_NAME.test(name)) return { ok: false, reason: `header name ${JSON.stringify(name.slice(0, 64))} is not a token` };
    if (INVALID_FIELD_VALUE.test(value)) return { ok: false, reason: `header ${JSON.stringify(name)} has a control character in its value` };
    const lower = name.toLowerCase();
    if (lower === REQUEST_ID_HEADER) continue;
    if (lower === 'content-length') {
      // RFC 9110 §8.6: a list of identical values may be taken as one.
      for (const part of value.split(',')) {
        const candidate = part.trim();
        if (!CONTENT_LENGTH.test(candidate)) return { ok: false, reason: `invalid Content-Length ${JSON.stringify(value.slice(0, 32))}` };
        if (contentLength !== undefined && Number(candidate) !== Number(contentLength)) return { ok: false, reason: 'conflicting Content-Length values' };
        contentLength = candidate;
      }
      continue;
    }
    headers.push([name, value]);
  }
  const bodyAllowed = method !== 'HEAD' && status !== 204 && status !== 304 && status !== SWITCHING_PROTOCOLS;
  // RFC 9110 §8.6: never on 204 (or 1xx); on HEAD and 304 it describes the representation.
  if (contentLength !== undefined && status !== 204 && status !== SWITCHING_PROTOCOLS) headers.push(['content-length', String(Number(contentLength))]);
  return { ok: true, head: { status, headers, contentLength: bodyAllowed && contentLength !== undefined ? Number(contentLength) : undefined, bodyAllowed } };
}

/** How a response body ended (see pipeResponseBody). */
export type BodyOutcome =
  /** The source ended within the framing; the sink was ended. */
  | { kind: 'complete' }
  /** The source sent more than Content-Length: the sink got exactly Content-Length bytes and was ended. */
  | { kind: 'overflow'; excessBytes: number }
  /** The source ended before Content-Length bytes: the sink was NOT ended (the caller cuts it). */
  | { kind: 'short'; receivedBytes: number; expectedBytes: number };

/**
 * Moves a response body from `source` to `sink` within the framing of `head`:
 * - no Content-Length and a body allowed: a plain pipe (the browser's protocol frames it);
 * - Content-Length: exactly that many bytes; `onOutcome` says whether the source sent more
 *   (overflow: the rest is dropped, the caller cancels the source) or fewer (short: the caller
 *   cuts the response, so a truncated body never looks complete);
 * - no body allowed (HEAD, 204, 304): whatever the source sends is dropped.
 * `onOutcome` is called at most once; not at all if the source fails or is destroyed (its
 * 'error'/'close' tell the caller). Backpressure is kept: the source pauses while the sink is full.
 */
export function pipeResponseBody(source: Readable, sink: Writable, head: Pick<CheckedResponseHead, 'contentLength' | 'bodyAllowed'>, onOutcome: (outcome: BodyOutcome) => void): void {
  if (head.bodyAllowed && head.contentLength === undefined) {
    source.once('end', () => onOutcome({ kind: 'complete' }));
    source.pipe(sink);
    return;
  }
  const expected = head.bodyAllowed ? (head.contentLength ?? 0) : 0;
  let received = 0;
  let settled = false;
  const settle = (outcome: BodyOutcome): void => {
    if (settled) return;
    settled = true;
    source.off('data', onData);
    source.off('end', onEnd);
    sink.off('drain', onDrain);
    onOutcome(outcome);
  };
  const onDrain = (): void => {
    source.resume();
  };
  const onData = (chunk: Buffer): void => {
    if (!head.bodyAllowed) return;
    const room = expected - received;
    if (chunk.length > room) {
      if (room > 0) sink.write(chunk.subarray(0, room));
      received = expected;
      sink.end();
      settle({ kind: 'overflow', excessBytes: chunk.length - room });
      return;
    }
    received += chunk.length;
    if (!sink.write(chunk)) {
      source.pause();
      sink.once('drain', onDrain);
    }
  };
  const onEnd = (): void => {
    if (received < expected) {
      settle({ kind: 'short', receivedBytes: received, expectedBytes: expected });
      return;
    }
    sink.end();
    settle({ kind: 'complete' });
  };
  source.on('data', onData);
  source.once('end', onEnd);
}
