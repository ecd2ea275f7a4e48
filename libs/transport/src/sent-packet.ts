/**
 * What the sender remembers about each packet: enough to act on its acknowledgement or
 * loss. Lost packets are never resent as such (RFC 9000 §13.3): their frames are.
 */

/** Receives the fate of the STREAM frames it sent (implemented by StreamCore). */
export interface StreamFrameOwner {
  onStreamFrameAcked(offset: number, length: number, fin: boolean): void;
  onStreamFrameLost(offset: number, length: number, fin: boolean): void;
}

/** Receives the fate of a MAX_STREAM_DATA frame it sent (implemented by StreamCore). */
export interface WindowUpdateOwner {
  onMaxStreamDataLost(): void;
}

export const SentFrameKind = {
  Stream: 0,
  ResetStream: 1,
  StopSending: 2,
  MaxData: 3,
  MaxStreamData: 4,
  MaxStreams: 5,
  TransportParameters: 6,
  Ping: 7,
} as const;

export interface SentStreamFrame {
  readonly kind: typeof SentFrameKind.Stream;
  readonly owner: StreamFrameOwner;
  readonly offset: number;
  readonly length: number;
  readonly fin: boolean;
}

export interface SentResetStream {
  readonly kind: typeof SentFrameKind.ResetStream;
  readonly streamId: number;
  readonly errorCode: number;
  readonly finalSize: number;
}

export interface SentStopSending {
  readonly kind: typeof SentFrameKind.StopSending;
  readonly streamId: number;
  readonly errorCode: number;
}

export interface SentMaxStreamData {
  readonly kind: typeof SentFrameKind.MaxStreamData;
  readonly owner: WindowUpdateOwner;
}

export interface SentFlagFrame {
  readonly kind:
    | typeof SentFrameKind.MaxData
    | typeof SentFrameKind.MaxStreams
    | typeof SentFrameKind.TransportParameters
    | typeof SentFrameKind.Ping;
}

export type SentFrame = SentStreamFrame | SentResetStream | SentStopSending | SentMaxStreamData | SentFlagFrame;

/** Shared records for frames that carry no per-send data (the current value is sent again). */
export const SENT_MAX_DATA: SentFlagFrame = { kind: SentFrameKind.MaxData };
export const SENT_MAX_STREAMS: SentFlagFrame = { kind: SentFrameKind.MaxStreams };
export const SENT_TRANSPORT_PARAMETERS: SentFlagFrame = { kind: SentFrameKind.TransportParameters };
export const SENT_PING: SentFlagFrame = { kind: SentFrameKind.Ping };

export interface SentPacket {
  readonly packetNumber: number;
  readonly timeSent: number;
  /** Bytes of the datagram. */
  readonly size: number;
  /** Contains a frame other than ACK or CONNECTION_CLOSE (RFC 9002 §2). */
  readonly ackEliciting: boolean;
  /** Counts towards bytes_in_flight: here, exactly the ack-eliciting packets (RFC 9002 §2). */
  readonly inFlight: boolean;
  readonly frames: SentFrame[];
  /** Carries IMMEDIATE_ACK: the peer acknowledges it without delay. */
  readonly immediateAck: boolean;
  /** The ranges of the ACK frame in this packet (flat [largest, smallest] pairs), or null (for RFC 9000 §13.2.4). */
  readonly ackRanges: readonly number[] | null;
  /** A path MTU probe (RFC 8899): padded to the size it tests, not in flight, no frames to repair. */
  readonly pmtuProbe: boolean;
}
