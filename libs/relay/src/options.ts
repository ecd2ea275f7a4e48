import { ErrorCode, HopError } from '@hopgate/errors';
import { MAX_CHUNK_BYTES, MAX_WINDOW_BYTES } from './defaults.js';

/** Checks a numeric option: an integer within [min, max]; throws HopError(BadConfig) otherwise. */
export function intOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HopError(ErrorCode.BadConfig, `${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

export function windowOption(value: number): number {
  return intOption('windowBytes', value, 1, MAX_WINDOW_BYTES);
}

export function chunkOption(value: number): number {
  return intOption('chunkBytes', value, 1, MAX_CHUNK_BYTES);
}

/** How many probe misses in a row make a peer gone. */
export function missesOption(value: number): number {
  return intOption('peerProbeMaxMisses', value, 1, 1_000);
}

export function timeoutOption(name: string, value: number): number {
  // setTimeout's largest delay is 2^31 - 1 ms.
  return intOption(name, value, 1, 2 ** 31 - 1);
}

export function idOption(name: string, value: string): string {
  if (value.length === 0) throw new HopError(ErrorCode.BadConfig, `${name} must not be empty`);
  return value;
}
