/**
 * Every stable error code in HopGate. Callers branch on `code`, never on message text.
 * The ingress maps codes to HTTP status in one place (services/https-ingress).
 */
export const ErrorCode = {
  /** No route matches the request's host and path. */
  NoRoute: 'ERR_NO_ROUTE',
  /** The route's client has no live session on any hub. */
  ClientOffline: 'ERR_CLIENT_OFFLINE',
  /** The agent could not reach its local service. */
  OriginUnreachable: 'ERR_ORIGIN_UNREACHABLE',
  /** The agent has no such service in its config. */
  UnknownService: 'ERR_UNKNOWN_SERVICE',
  /** No answer in time. */
  Timeout: 'ERR_TIMEOUT',
  /** The stream was reset by the peer or cancelled. */
  StreamReset: 'ERR_STREAM_RESET',
  /** Too many concurrent streams. */
  Busy: 'ERR_BUSY',
  /** A dependency of the service (Redis, NATS) is unreachable for now; retry shortly. */
  Unavailable: 'ERR_UNAVAILABLE',
  /** Malformed bytes on a wire. */
  BadFrame: 'ERR_BAD_FRAME',
  /** Wire magic or version mismatch. */
  BadVersion: 'ERR_BAD_VERSION',
  /** Agent authentication failed. */
  AuthFailed: 'ERR_AUTH_FAILED',
  /** A newer session for the same client replaced this one. */
  SessionReplaced: 'ERR_SESSION_REPLACED',
  /** The hub is draining (shutting down on purpose): go to another hub. */
  Draining: 'ERR_DRAINING',
  /** Invalid configuration. */
  BadConfig: 'ERR_BAD_CONFIG',
  /** Invalid route entry in Redis. */
  BadRoute: 'ERR_BAD_ROUTE',
  /** TLS/DTLS certificate verification failed. */
  CertVerify: 'ERR_CERT_VERIFY',
  /** A stored certificate record or certificate PEM is malformed. */
  BadCert: 'ERR_BAD_CERT',
  /** The ACME server refused or failed an order, or could not be reached. */
  Acme: 'ERR_ACME',
  /** A connection or session closed. */
  Closed: 'ERR_CLOSED',
  /** Protocol violation by a peer (flow control, state). */
  Protocol: 'ERR_PROTOCOL',
  /** Something internal went wrong. */
  Internal: 'ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const ALL_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ALL_CODES.has(value);
}
