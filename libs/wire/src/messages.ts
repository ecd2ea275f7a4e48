/**
 * Every message between dtls-hub and agent, in one file (the frp `msg.go` model).
 *
 * Streams (libs/transport) carry them:
 * - the control stream (the first stream the agent opens): both sides first send the
 *   preface (`WIRE_MAGIC` + `WIRE_VERSION`), then the agent sends `hello`, the hub answers
 *   `hello_ok` or `hello_reject`; later the hub may send `go_away`.
 * - one request stream per HTTP request, opened by the hub: `request_head`, then the raw
 *   request body bytes until FIN. The agent answers `response_head` (or `stream_error`),
 *   then the raw response body bytes until FIN. A reset stream is a cancelled request.
 */
import type { ErrorCode } from '@hopgate/errors';

/** First bytes of every control stream, both directions. */
export const WIRE_MAGIC = 'HOPG';
/**
 * Bumped on any incompatible change of messages or encoding. 1: JSON payloads; 2: binary fields
 * (codec.ts). A hub answers a version-1 agent in version 1 with a hello_reject that says to
 * upgrade it (legacy.ts), so an old agent logs why instead of a decoding error.
 */
export const WIRE_VERSION = 2;

/** Numeric type tags on the wire; never reuse a number. */
export const MessageTag = {
  hello: 1,
  hello_ok: 2,
  hello_reject: 3,
  request_head: 4,
  response_head: 5,
  stream_error: 6,
  go_away: 7,
} as const;

export type MessageKind = keyof typeof MessageTag;

/** A header list keeps order and repeats (e.g. several Set-Cookie). */
export type HeaderPairs = Array<[name: string, value: string]>;

/**
 * A field added after a message's fixed ones: `id` (0-255) and opaque bytes. A receiver skips
 * the ids it does not know; the hub splices heads without reading them (codec.ts).
 */
export interface Extension {
  id: number;
  value: Uint8Array;
}

/** Extension ids; never reuse a number. */
export const ExtensionId = {
  /** response_head: the agent's origin time, u32 microseconds (request sent to head received). */
  originMicros: 1,
} as const;

/** Fields every message may carry. */
interface MessageBase {
  extensions?: Extension[];
}

export interface Hello extends MessageBase {
  type: 'hello';
  client_id: string;
  token: string;
  /** Agent software version, for logs. */
  agent_version: string;
  /** Service names the agent serves (informational). */
  services: string[];
  /**
   * This agent process's instance id (ID_PATTERN), kept for the process's life: replicas of one
   * client differ by it; a newer session with the same id fences the older one. Absent from
   * agents before replicas: the hub gives them one shared id per client (today's behaviour).
   */
  instance_id?: string;
}

export interface HelloOk extends MessageBase {
  type: 'hello_ok';
  hub_id: string;
  /** The session's epoch: a newer one replaces this session cluster-wide. */
  epoch: number;
}

export interface HelloReject extends MessageBase {
  type: 'hello_reject';
  code: ErrorCode;
  reason: string;
}

export interface RequestHead extends MessageBase {
  type: 'request_head';
  /** Unique cluster-wide (built by the ingress). */
  request_id: string;
  /** Name in the agent's `services` map. */
  service: string;
  method: string;
  /** Raw path and query, byte-exact as received. */
  path: string;
  headers: HeaderPairs;
  /** Whether body bytes follow the head on this stream (else FIN follows at once). */
  has_body: boolean;
}

export interface ResponseHead extends MessageBase {
  type: 'response_head';
  status: number;
  headers: HeaderPairs;
}

/** The agent could not produce a response head (origin unreachable, unknown service, ...). */
export interface StreamError extends MessageBase {
  type: 'stream_error';
  code: ErrorCode;
  message: string;
}

/**
 * The hub is ending this session (replaced by a newer one, hub shutting down). With
 * `code: ERR_DRAINING` the hub keeps serving the session's streams for a while: the agent opens
 * its new session on another hub first, then closes this one (make-before-break).
 */
export interface GoAway extends MessageBase {
  type: 'go_away';
  code: ErrorCode;
  reason: string;
}

export type WireMessage = Hello | HelloOk | HelloReject | RequestHead | ResponseHead | StreamError | GoAway;
