import type { ErrorCode } from '@hopgate/errors';

/**
 * Every frame of the relay wire format, as plain typed records (encoding lives in codec.ts).
 * See docs/nats.md for the byte layout and the subjects each frame travels on.
 *
 * Direction and transport (one NATS message carries the frames of one event-loop turn to one subject):
 *   ingress -> hub, publish on subjects.hub(hubId):          OPEN (the message has a reply subject,
 *                                                            for nats-server's "no responders"),
 *                                                            DATA, END, CREDIT, RESET
 *   hub -> ingress, publish on subjects.ingress(ingressId):  ACCEPT | REJECT, RESPONSE, DATA, END,
 *                                                            CREDIT, RESET (REJECT goes to the
 *                                                            message's reply subject instead when
 *                                                            OPEN names no ingress subject)
 *   either node -> its peer node, NATS request on the peer's subject:  PING
 *   the peer node -> the prober, reply to that request:                PONG
 *
 * PING and PONG belong to no stream: they probe a peer node (one probe per peer, not per stream).
 */

/** Two magic bytes, "HR" (HopGate Relay). */
export const RELAY_MAGIC = 0x4852;
/**
 * Wire format version; a receiver drops messages of any other version. 2: several frames per
 * message, a body length per frame, OPEN flags (FIN), ACCEPT on the ingress subject.
 */
export const RELAY_VERSION = 2;

/** OPEN flag: the request body is empty and complete (no END follows; HTTP/2's END_STREAM on HEADERS, RFC 9113 §6.2). */
export const OPEN_FLAG_FIN = 0x01;

export const FrameType = {
  Open: 1,
  Accept: 2,
  Reject: 3,
  Data: 4,
  End: 5,
  Credit: 6,
  Response: 7,
  Reset: 8,
  Ping: 9,
  Pong: 10,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Every frame names its stream and carries its sequence number in that stream's direction. */
export interface FrameHeader {
  /** The request id: unique cluster-wide (ingress id + boot nonce + counter). PING / PONG: the prober's node id. */
  streamId: string;
  /** 0 for OPEN and for ACCEPT / REJECT, then +1 per frame in each direction. PING / PONG: the probe number. */
  seq: number;
}

/** Opens a stream; `windowBytes` is the credit the hub may use for the response body. */
export interface OpenFrame extends FrameHeader {
  type: typeof FrameType.Open;
  windowBytes: number;
  /** Subject where the hub publishes this stream's frames: subjects.ingress(ingressId). */
  replyTo: string;
  /** Request head: opaque to the relay. */
  head: Uint8Array;
  /** The request body is empty: the stream's ingress -> hub half is closed from the start (no END follows). */
  fin?: boolean;
}

/** The hub takes the stream; `creditBytes` is the credit the ingress may use for the request body. */
export interface AcceptFrame extends FrameHeader {
  type: typeof FrameType.Accept;
  creditBytes: number;
}

/** The hub refuses the stream (no state is kept on either side afterwards). */
export interface RejectFrame extends FrameHeader {
  type: typeof FrameType.Reject;
  code: ErrorCode;
  message: string;
}

/** Body bytes; each DATA uses up payload.byteLength of the sender's credit. */
export interface DataFrame extends FrameHeader {
  type: typeof FrameType.Data;
  payload: Uint8Array;
}

/** The sender's body is complete (half close). */
export interface EndFrame extends FrameHeader {
  type: typeof FrameType.End;
}

/** The receiver's application consumed `creditBytes` more: the sender may send that much more. */
export interface CreditFrame extends FrameHeader {
  type: typeof FrameType.Credit;
  creditBytes: number;
}

/** Response head, sent by the hub once, before any response DATA. */
export interface ResponseFrame extends FrameHeader {
  type: typeof FrameType.Response;
  head: Uint8Array;
}

/** Aborts the stream in both directions; the receiver frees its state. */
export interface ResetFrame extends FrameHeader {
  type: typeof FrameType.Reset;
  code: ErrorCode;
  message: string;
}

/**
 * Liveness probe, sent as a NATS request to a peer node's subject while this node has streams with
 * that peer. The header fields name the probe, not a stream: `streamId` is the prober's node id,
 * `seq` counts the probes to that peer. Empty body.
 */
export interface PingFrame extends FrameHeader {
  type: typeof FrameType.Ping;
}

/** The answer to PING (same streamId and seq), sent as the request's reply. */
export interface PongFrame extends FrameHeader {
  type: typeof FrameType.Pong;
  /** The responder's instance id: changes when the node restarts (new RelayClient / RelayServer). */
  instance: string;
}

export type Frame =
  | OpenFrame
  | AcceptFrame
  | RejectFrame
  | DataFrame
  | EndFrame
  | CreditFrame
  | ResponseFrame
  | ResetFrame
  | PingFrame
  | PongFrame;

/** A frame without its header fields: what a stream hands to its sender, which numbers it. */
export type FrameBody = Frame extends infer F ? (F extends Frame ? Omit<F, keyof FrameHeader> : never) : never;

/** Frame types a hub accepts on subjects.hub(hubId). */
export const HUB_INBOUND_TYPES: ReadonlySet<FrameType> = new Set([
  FrameType.Open,
  FrameType.Data,
  FrameType.End,
  FrameType.Credit,
  FrameType.Reset,
  FrameType.Ping,
]);

/** Frame types an ingress accepts on the reply subject of a message with OPENs (a REJECT of an OPEN that named no ingress subject). */
export const OPEN_REPLY_TYPES: ReadonlySet<FrameType> = new Set([FrameType.Accept, FrameType.Reject]);

/** Frame types an ingress accepts on subjects.ingress(ingressId). */
export const INGRESS_INBOUND_TYPES: ReadonlySet<FrameType> = new Set([
  FrameType.Accept,
  FrameType.Reject,
  FrameType.Response,
  FrameType.Data,
  FrameType.End,
  FrameType.Credit,
  FrameType.Reset,
  FrameType.Ping,
]);

/** Frame types a prober accepts as the reply to its PING request. */
export const PING_REPLY_TYPES: ReadonlySet<FrameType> = new Set([FrameType.Pong]);

export function frameTypeName(type: number): string {
  for (const [name, value] of Object.entries(FrameType)) if (value === type) return name.toUpperCase();
  return `UNKNOWN(${type})`;
}
