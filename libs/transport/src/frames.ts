/**
 * Every frame of the transport, as plain typed records (RFC 9000 §19 shapes).
 * Encoding and decoding live in frame-codec.ts.
 */

/** Frame type codes (RFC 9000 §12.4, Table 3), plus one extension (TransportParameters). */
export const FrameType = {
  /** RFC 9000 §19.1 */
  Padding: 0x00,
  /** RFC 9000 §19.2 */
  Ping: 0x01,
  /** RFC 9000 §19.3 (no ECN counts: type 0x03 is not used) */
  Ack: 0x02,
  /** RFC 9000 §19.4 */
  ResetStream: 0x04,
  /** RFC 9000 §19.5 */
  StopSending: 0x05,
  /** RFC 9000 §19.8: 0x08..0x0f, the low three bits are OFF (0x04), LEN (0x02), FIN (0x01). */
  Stream: 0x08,
  /** RFC 9000 §19.9 */
  MaxData: 0x10,
  /** RFC 9000 §19.10 */
  MaxStreamData: 0x11,
  /** RFC 9000 §19.11 (bidirectional streams only) */
  MaxStreams: 0x12,
  /** RFC 9000 §19.12 */
  DataBlocked: 0x14,
  /** RFC 9000 §19.13 */
  StreamDataBlocked: 0x15,
  /** RFC 9000 §19.19, transport error (0x1c) */
  ConnectionClose: 0x1c,
  /** RFC 9000 §19.19, application error (0x1d) */
  ApplicationClose: 0x1d,
  /**
   * IMMEDIATE_ACK (draft-ietf-quic-ack-frequency §5): the receiver acknowledges at once
   * instead of waiting for max_ack_delay. Sent when the congestion window is about to
   * fill and in probes, so that a small window never waits for a delayed ACK.
   */
  ImmediateAck: 0x1f,
  /**
   * Extension: the transport parameters of RFC 9000 §18.2 that QUIC carries in its TLS
   * handshake. This transport has no handshake of its own, so each endpoint sends them in
   * its first packet (ack-eliciting, retransmitted until acknowledged).
   */
  TransportParameters: 0x3e,
} as const;

export const STREAM_FLAG_OFF = 0x04;
export const STREAM_FLAG_LEN = 0x02;
export const STREAM_FLAG_FIN = 0x01;

export interface PingFrame {
  readonly type: typeof FrameType.Ping;
}

export interface ImmediateAckFrame {
  readonly type: typeof FrameType.ImmediateAck;
}

/**
 * ACK (RFC 9000 §19.3). `ranges` holds inclusive [smallest, largest] pairs flattened,
 * largest range first: [largest0, smallest0, largest1, smallest1, ...].
 */
export interface AckFrame {
  readonly type: typeof FrameType.Ack;
  readonly largestAcknowledged: number;
  /** Time between receipt of the largest acknowledged packet and this ACK, in microseconds. */
  readonly ackDelayUs: number;
  readonly ranges: number[];
}

export interface ResetStreamFrame {
  readonly type: typeof FrameType.ResetStream;
  readonly streamId: number;
  readonly errorCode: number;
  readonly finalSize: number;
}

export interface StopSendingFrame {
  readonly type: typeof FrameType.StopSending;
  readonly streamId: number;
  readonly errorCode: number;
}

export interface StreamFrame {
  readonly type: typeof FrameType.Stream;
  readonly streamId: number;
  readonly offset: number;
  /** A view into the received datagram (no copy). */
  readonly data: Buffer;
  readonly fin: boolean;
}

export interface MaxDataFrame {
  readonly type: typeof FrameType.MaxData;
  readonly maximumData: number;
}

export interface MaxStreamDataFrame {
  readonly type: typeof FrameType.MaxStreamData;
  readonly streamId: number;
  readonly maximumStreamData: number;
}

export interface MaxStreamsFrame {
  readonly type: typeof FrameType.MaxStreams;
  readonly maximumStreams: number;
}

export interface DataBlockedFrame {
  readonly type: typeof FrameType.DataBlocked;
  readonly maximumData: number;
}

export interface StreamDataBlockedFrame {
  readonly type: typeof FrameType.StreamDataBlocked;
  readonly streamId: number;
  readonly maximumStreamData: number;
}

/** CONNECTION_CLOSE (RFC 9000 §19.19), simplified: no Frame Type field. */
export interface ConnectionCloseFrame {
  readonly type: typeof FrameType.ConnectionClose | typeof FrameType.ApplicationClose;
  readonly errorCode: number;
  readonly reason: string;
}

/** Our extension: the parameters an endpoint grants its peer at the start (RFC 9000 §18.2 meanings). */
export interface TransportParametersFrame {
  readonly type: typeof FrameType.TransportParameters;
  /** initial_max_data */
  readonly initialMaxData: number;
  /** initial_max_stream_data_bidi_local and _remote: one value for every new stream */
  readonly initialMaxStreamData: number;
  /** initial_max_streams_bidi */
  readonly initialMaxStreams: number;
}

export type Frame =
  | PingFrame
  | ImmediateAckFrame
  | AckFrame
  | ResetStreamFrame
  | StopSendingFrame
  | StreamFrame
  | MaxDataFrame
  | MaxStreamDataFrame
  | MaxStreamsFrame
  | DataBlockedFrame
  | StreamDataBlockedFrame
  | ConnectionCloseFrame
  | TransportParametersFrame;

/** ACK, PADDING and CONNECTION_CLOSE are not ack-eliciting (RFC 9002 §2). */
export function isAckEliciting(frame: Frame): boolean {
  return (
    frame.type !== FrameType.Ack &&
    frame.type !== FrameType.ConnectionClose &&
    frame.type !== FrameType.ApplicationClose
  );
}
