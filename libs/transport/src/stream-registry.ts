import { ErrorCode, HopError } from '@hopgate/errors';
import { MAX_STREAMS_LIMIT, MAX_STREAMS_UPDATE_THRESHOLD } from './constants.js';
import { TransportErrorCode } from './errors.js';
import type { StreamCore } from './stream-core.js';
import { isInitiatedBy, isUnidirectional, streamIdOf, streamIndexOf } from './stream-ids.js';

/**
 * The live streams of a connection and the stream-count limits both ways (RFC 9000 §2.1,
 * §4.6): which ids each side may open, which frames refer to closed streams, and the
 * MAX_STREAMS values. MAX_STREAMS counts streams ever opened, so our advertised limit is
 * the peer streams already freed plus `maxIncomingStreams`: at most that many are live.
 */
export class StreamRegistry {
  readonly streams = new Map<number, StreamCore>();
  private readonly isClient: boolean;
  private readonly maxIncomingStreams: number;
  private nextLocalIndex = 0;
  /** Peer streams opened so far (the next peer stream index). */
  private peerOpened = 0;
  /** Peer streams freed so far. */
  private peerFreed = 0;
  /** The highest MAX_STREAMS we sent (the transport parameters' initial value first). */
  private advertisedMaxStreams: number;
  /** The peer's MAX_STREAMS: how many streams we may open in total. */
  peerMaxStreams = 0;
  /** The peer's transport parameters have arrived (until then its limit is unknown). */
  peerParamsKnown = false;

  constructor(isClient: boolean, maxIncomingStreams: number) {
    this.isClient = isClient;
    this.maxIncomingStreams = maxIncomingStreams;
    this.advertisedMaxStreams = maxIncomingStreams;
  }

  get size(): number {
    return this.streams.size;
  }

  /** The MAX_STREAMS value we advertise. */
  get localMaxStreams(): number {
    return Math.min(this.peerFreed + this.maxIncomingStreams, MAX_STREAMS_LIMIT);
  }

  /** The MAX_STREAMS value to send now; it is recorded as advertised. */
  takeLocalMaxStreams(): number {
    const maximum = this.localMaxStreams;
    if (maximum > this.advertisedMaxStreams) this.advertisedMaxStreams = maximum;
    return maximum;
  }

  /** The peer has less than MAX_STREAMS_UPDATE_THRESHOLD of its stream credit left to open (RFC 9000 §4.6). */
  get peerStreamCreditLow(): boolean {
    return this.advertisedMaxStreams - this.peerOpened < this.maxIncomingStreams * MAX_STREAMS_UPDATE_THRESHOLD;
  }

  /**
   * The id for a new local stream. Throws ERR_BUSY once the peer's known limit is reached;
   * before the peer's parameters arrive, streams may be opened and wait (see `mayReference`).
   */
  allocateLocalId(): number {
    const index = this.nextLocalIndex;
    if (this.peerParamsKnown && index >= this.peerMaxStreams) {
      throw new HopError(ErrorCode.Busy, `peer allows ${this.peerMaxStreams} streams; all are in use`);
    }
    this.nextLocalIndex++;
    return streamIdOf(index, this.isClient);
  }

  /** Frames about a local stream wait until the peer's MAX_STREAMS covers it (RFC 9000 §4.6). */
  mayReference(streamId: number): boolean {
    return !isInitiatedBy(streamId, this.isClient) || streamIndexOf(streamId) < this.peerMaxStreams;
  }

  isLocal(streamId: number): boolean {
    return isInitiatedBy(streamId, this.isClient);
  }

  add(core: StreamCore): void {
    this.streams.set(core.id, core);
  }

  /**
   * The stream a received frame refers to: a StreamCore; null for a stream already closed
   * (a stale frame, ignored); or a TransportErrorCode (RFC 9000 §19.4-19.10, §4.6). A frame
   * for a new peer stream opens it and every lower one (RFC 9000 §3.2) through `openPeer`.
   */
  resolve(streamId: number, openPeer: (streamId: number) => boolean): StreamCore | null | TransportErrorCode {
    if (isUnidirectional(streamId)) return TransportErrorCode.StreamStateError;
    const index = streamIndexOf(streamId);
    if (isInitiatedBy(streamId, this.isClient)) {
      // RFC 9000 §19.8: a frame for a local stream we have not opened.
      if (index >= this.nextLocalIndex) return TransportErrorCode.StreamStateError;
      return this.streams.get(streamId) ?? null;
    }
    // RFC 9000 §4.6: beyond the MAX_STREAMS we advertised.
    if (index >= this.localMaxStreams) return TransportErrorCode.StreamLimitError;
    while (this.peerOpened <= index) {
      const id = streamIdOf(this.peerOpened, !this.isClient);
      this.peerOpened++;
      if (!openPeer(id)) return null;
    }
    return this.streams.get(streamId) ?? null;
  }

  /** Forgets a finished stream; returns true when it was a peer stream (MAX_STREAMS may grow). */
  remove(core: StreamCore): boolean {
    this.streams.delete(core.id);
    if (core.isLocal) return false;
    this.peerFreed++;
    return true;
  }

  /** MAX_STREAMS from the peer (RFC 9000 §19.11): limits only grow. Returns true if it grew. */
  raisePeerMaxStreams(maximum: number): boolean {
    if (maximum <= this.peerMaxStreams) return false;
    this.peerMaxStreams = maximum;
    return true;
  }

  /** Local streams may send once the peer's limit covers them. */
  sendAllowed(streamId: number): boolean {
    return this.mayReference(streamId);
  }

  clear(): StreamCore[] {
    const cores = [...this.streams.values()];
    this.streams.clear();
    return cores;
  }
}
