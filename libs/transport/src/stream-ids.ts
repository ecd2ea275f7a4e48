/**
 * Stream identifiers (RFC 9000 §2.1): the two low bits give the initiator (0x1: server)
 * and the direction (0x2: unidirectional). Only bidirectional streams exist here, so a
 * client opens 0, 4, 8, ... and a server 1, 5, 9, .... Arithmetic, not bitwise: ids may
 * exceed 2^32.
 */

/** The id of the `index`-th stream opened by a client (`isClient`) or a server. */
export function streamIdOf(index: number, isClient: boolean): number {
  return index * 4 + (isClient ? 0 : 1);
}

/** Which of an initiator's streams this is (0 for the first). */
export function streamIndexOf(streamId: number): number {
  return Math.floor(streamId / 4);
}

/** Unidirectional stream ids (type bit 0x2 set). */
export function isUnidirectional(streamId: number): boolean {
  return streamId % 4 >= 2;
}

/** Whether the endpoint with role `isClient` initiated `streamId`. */
export function isInitiatedBy(streamId: number, isClient: boolean): boolean {
  return (streamId % 2 === 0) === isClient;
}
