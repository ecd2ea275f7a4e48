import { type ErrorCode, isErrorCode, ErrorCode as Codes } from './codes.js';

/** The one error base class: a stable `code`, a human message, an optional `cause`. */
export class HopError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HopError';
    this.code = code;
  }
}

/** The code of any thrown value: a HopError's code, else ERR_INTERNAL. */
export function errorCodeOf(err: unknown): ErrorCode {
  if (err instanceof HopError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : Codes.Internal;
}

export function errorMessageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
