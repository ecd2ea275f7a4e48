import { ErrorCode, HopError } from '@hopgate/errors';

/**
 * Transport error codes carried by CONNECTION_CLOSE type 0x1c (RFC 9000 §20.1), plus
 * IdleTimeout, which QUIC does not need (its idle close is silent) but we send so that
 * the peer learns why.
 */
export const TransportErrorCode = {
  NoError: 0x0,
  InternalError: 0x1,
  FlowControlError: 0x3,
  StreamLimitError: 0x4,
  StreamStateError: 0x5,
  FinalSizeError: 0x6,
  FrameEncodingError: 0x7,
  ProtocolViolation: 0xa,
  /** Ours (outside the RFC 9000 registry's used range). */
  IdleTimeout: 0x100,
  /** Ours: no acknowledgement within the dead-peer bound (DeadPeerDetector). */
  PeerUnresponsive: 0x101,
} as const;

export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];

/** Application error codes this library itself puts in RESET_STREAM / STOP_SENDING (RFC 9000 §20.2). */
export const StreamResetCode = {
  /** `reset()` without a code, or `destroy()` without an error. */
  Cancelled: 0,
  /** `destroy(err)` with an error that carries no numeric `resetCode`. */
  InternalError: 1,
  /** A peer-opened stream nobody listens for (no 'stream' listener). */
  Refused: 2,
} as const;

/** A stream was reset: by the peer (`remote`) or locally. `resetCode` is the application code. */
export class StreamResetError extends HopError {
  readonly resetCode: number;
  readonly remote: boolean;

  constructor(resetCode: number, remote: boolean, message?: string) {
    super(ErrorCode.StreamReset, message ?? `stream reset ${remote ? 'by peer' : 'locally'} with code ${resetCode}`);
    this.name = 'StreamResetError';
    this.resetCode = resetCode;
    this.remote = remote;
  }
}

/**
 * Why a connection closed. `code` (from HopError) is Closed (also when the peer stopped
 * answering: the ingress answers 502), Timeout (idle timeout) or Protocol;
 * `closeCode` is the numeric CONNECTION_CLOSE code (a TransportErrorCode, or the
 * application's code when `application` is true).
 */
export class ConnectionCloseError extends HopError {
  readonly closeCode: number;
  readonly application: boolean;
  readonly remote: boolean;
  readonly reason: string;

  constructor(
    code: ErrorCode,
    details: { closeCode: number; application: boolean; remote: boolean; reason: string },
    options?: { cause?: unknown },
  ) {
    const who = details.remote ? 'peer' : 'local';
    const kind = details.application ? 'application' : 'transport';
    const suffix = details.reason ? `: ${details.reason}` : '';
    super(code, `connection closed by ${who} (${kind} code ${details.closeCode})${suffix}`, options);
    this.name = 'ConnectionCloseError';
    this.closeCode = details.closeCode;
    this.application = details.application;
    this.remote = details.remote;
    this.reason = details.reason;
  }
}

/** The HopError code for a CONNECTION_CLOSE: application and NO_ERROR closes are Closed. */
export function errorCodeForClose(closeCode: number, application: boolean): ErrorCode {
  if (application || closeCode === TransportErrorCode.NoError) return ErrorCode.Closed;
  if (closeCode === TransportErrorCode.IdleTimeout) return ErrorCode.Timeout;
  if (closeCode === TransportErrorCode.PeerUnresponsive) return ErrorCode.Closed;
  return ErrorCode.Protocol;
}
