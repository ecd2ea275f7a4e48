import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { FRAME_FIXED_HEADER_BYTES, FrameEncoder, MESSAGE_HEADER_BYTES, writeMessageHeader } from './codec.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_BATCH_BYTES, MAX_DEFERRED_RESETS, PUBLISH_SLAB_BYTES, SLAB_FRESH_BATCH_MIN_BYTES } from './defaults.js';
import { FrameType, OPEN_FLAG_FIN, type Frame, type FrameBody } from './frames.js';

/** The frames of one turn to one subject: one NATS message (or more, past the server's max_payload). */
interface Batch {
  readonly subject: string;
  /** Set once the batch holds an OPEN: `<reply prefix><token>` (nats-server's "no responders" goes there). */
  reply: string | undefined;
  token: string | undefined;
  /** Earlier runs of this batch in other slabs (or before another batch's bytes in the same slab). */
  readonly pieces: Buffer[];
  /** The current run: slab[start, end). */
  slab: Buffer;
  start: number;
  end: number;
  /** Bytes of the message so far (header included). */
  bytes: number;
  /** Frames in it that were not taken back. */
  frames: number;
  /** OPENs taken back (withdrawOpen): [offset in the message, length], cut out at drain. */
  withdrawn: Array<[number, number]> | undefined;
  /** Set while the batch's last frame is a DATA (what extendData() may grow), else undefined. */
  lastData: LastData | undefined;
}

/** The DATA frame that ends a batch: where its body length sits, to grow it in place. */
interface LastData {
  readonly streamId: string;
  readonly seq: number;
  /** The slab it was written to and the offset of its u32 body length there. */
  readonly slab: Buffer;
  readonly lengthAt: number;
  payloadBytes: number;
}

/** An OPEN still in this turn's batch: where it sits, to set FIN or take it back. */
interface QueuedOpen {
  readonly batch: Batch;
  readonly slab: Buffer;
  /** Offset of its flags byte in `slab`. */
  readonly flagsAt: number;
  /** Offset and length of the frame within its message. */
  readonly messageOffset: number;
  readonly length: number;
}

/**
 * Publishes frames on a NATS connection that may drop. NATS core is at-most-once: frames in flight
 * during a disconnect are gone, so the owner resets its streams as soon as the connection drops
 * (onDisconnect) instead of waiting for a sequence gap or the idle timeout. nats.js discards what
 * was published while disconnected, so RESETs are held back and sent after the reconnect: the
 * peer frees its side too.
 *
 * Frames are encoded at once, each straight after the previous one into a shared slab (no buffer
 * per frame), and the frames of one event-loop turn to one subject leave together as ONE NATS
 * message at the end of the turn (setImmediate), up to the server's max_payload: per message,
 * nats.js, nats-server and the receiving node each pay a fixed cost (protocol line, routing, parse,
 * callback), so at 64 requests in flight or during a transfer this cuts messages several times.
 * Order is kept: every frame to a subject goes through its batch, batches leave in order.
 */
export class FramePublisher {
  private connected = true;
  private deferredResets: Array<{ subject: string; frame: Frame }> = [];
  private stopWatching: (() => void) | undefined;
  private readonly encoder = new FrameEncoder();
  /** Batches of this turn, in the order they were started. */
  private batches: Batch[] = [];
  /** The batch still taking frames, by subject. */
  private readonly openBatches = new Map<string, Batch>();
  /** The OPENs in this turn's batches, by stream id. */
  private readonly queuedOpens = new Map<string, QueuedOpen>();
  private slab: Buffer = Buffer.allocUnsafeSlow(PUBLISH_SLAB_BYTES);
  private slabUsed = 0;
  private tokenCounter = 0;
  private drainScheduled = false;
  private readonly drainBound = (): void => this.drain();

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {}

  /** False between a disconnect and the reconnect that follows it. */
  get isConnected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  /** Watches the connection status until stop(); onDisconnect runs on each drop. */
  watch(onDisconnect: (server: string) => void): void {
    if (this.stopWatching !== undefined) return;
    const statuses = this.nc.status();
    void (async () => {
      for await (const status of statuses) {
        if (status.type === 'disconnect') {
          this.connected = false;
          onDisconnect(status.server);
        } else if (status.type === 'reconnect') {
          this.connected = true;
          this.flushDeferred();
        }
      }
    })().catch(() => undefined);
    // status() is typed as AsyncIterable, but it is nats.js's QueuedIterator, which has stop().
    this.stopWatching = () => (statuses as { stop?: () => void }).stop?.();
  }

  stop(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
    this.deferredResets = [];
    this.connected = true; // a later watch() starts from the connection as it is
  }

  /** A whole frame (not on a stream's hot path): encodes its stream id, then as publishFrame(). */
  publish(subject: string, frame: Frame): boolean {
    return this.publishFrame(subject, Buffer.from(frame.streamId, 'utf8'), frame.seq, frame, frame.streamId);
  }

  /**
   * Encodes a frame into this turn's batch for `subject`; false when the connection cannot take
   * it (closed). `id` is the stream id's bytes (a stream encodes them once).
   */
  publishFrame(subject: string, id: Uint8Array, seq: number, body: FrameBody, streamId: string): boolean {
    if (!this.connected && body.type === FrameType.Reset) {
      if (this.deferredResets.length < MAX_DEFERRED_RESETS) this.deferredResets.push({ subject, frame: { ...body, streamId, seq } });
      return true;
    }
    if (this.nc.isClosed()) {
      this.log.warn({ request_id: streamId, err_message: 'connection closed' }, 'relay publish failed');
      return false;
    }
    this.append(subject, id, seq, body, streamId, undefined);
    return true;
  }

  /**
   * Appends as much of `payload` as fits to the DATA frame `seq` of stream `streamId` when that
   * frame is still the last one of this turn's batch for `subject`: up to `maxPayloadBytes` in the
   * frame and the message limit. Returns the bytes taken (0: none; the caller sends the rest as a
   * DATA frame of its own). They are copied once, into the slab, and no frame header is spent on
   * them. A stream writes as its source delivers (a datagram's worth at a time on the hub, a TLS
   * record's on the ingress): this fills chunk-sized frames and whole messages from those writes
   * without gathering them in a buffer first.
   */
  extendData(subject: string, seq: number, payload: Uint8Array, streamId: string, maxPayloadBytes: number): number {
    if (this.nc.isClosed()) return 0;
    const batch = this.openBatches.get(subject);
    const last = batch?.lastData;
    if (batch === undefined || last === undefined || last.streamId !== streamId || last.seq !== seq) return 0;
    // In place only: the frame must end where the slab's free room begins.
    if (last.slab !== this.slab || batch.slab !== this.slab || batch.end !== this.slabUsed) return 0;
    const n = Math.min(payload.byteLength, maxPayloadBytes - last.payloadBytes, this.maxMessageBytes() - batch.bytes, this.slab.length - this.slabUsed);
    if (n <= 0) return 0;
    this.slab.set(n === payload.byteLength ? payload : payload.subarray(0, n), this.slabUsed);
    this.slabUsed += n;
    batch.end += n;
    batch.bytes += n;
    last.payloadBytes += n;
    this.slab.writeUInt32BE(last.payloadBytes, last.lengthAt);
    return n;
  }

  /**
   * Encodes an OPEN into this turn's batch for `subject`. The message that carries it gets the
   * reply subject `<replyPrefix><token>` (one token per message, shared by its OPENs): nats-server
   * answers "no responders" there when nobody subscribes `subject`. Returns the token, or
   * undefined when the connection is closed.
   */
  publishOpen(subject: string, id: Uint8Array, body: FrameBody & { type: typeof FrameType.Open }, streamId: string, replyPrefix: string): string | undefined {
    if (this.nc.isClosed()) {
      this.log.warn({ request_id: streamId, err_message: 'connection closed' }, 'relay publish failed');
      return undefined;
    }
    return this.append(subject, id, 0, body, streamId, { replyPrefix });
  }

  /**
   * Sets FIN on the OPEN of stream `streamId` if it has not left yet: true when it did (the
   * request body is then complete with the OPEN and no END is sent), false once it left.
   */
  finishOpen(streamId: string): boolean {
    const queued = this.queuedOpens.get(streamId);
    if (queued === undefined) return false;
    queued.slab[queued.flagsAt] = (queued.slab[queued.flagsAt] ?? 0) | OPEN_FLAG_FIN;
    return true;
  }

  /**
   * Takes back the OPEN of stream `streamId` if it is still in this turn's batch, so that it
   * never leaves: true when it did (the peer never hears of the stream, so no RESET is owed
   * either), false once it was handed to nats.js. A browser that resets a request as soon as
   * it sent it (HTTP/2 rapid reset, CVE-2023-44487) then costs the hub nothing.
   */
  withdrawOpen(streamId: string): boolean {
    const queued = this.queuedOpens.get(streamId);
    if (queued === undefined) return false;
    this.queuedOpens.delete(streamId);
    const { batch } = queued;
    (batch.withdrawn ??= []).push([queued.messageOffset, queued.length]);
    batch.frames -= 1;
    return true;
  }

  /** Hands this turn's messages to nats.js now (also run before a flush, so nothing is left behind). */
  drain(): void {
    this.drainScheduled = false;
    const batches = this.batches;
    if (batches.length === 0) return;
    this.batches = [];
    this.openBatches.clear();
    this.queuedOpens.clear();
    for (const batch of batches) {
      if (batch.frames === 0) continue;
      try {
        this.nc.publish(batch.subject, messageOf(batch), batch.reply === undefined ? undefined : { reply: batch.reply });
      } catch (err) {
        this.log.warn({ subject: batch.subject, err_message: errorMessageOf(err) }, 'relay publish failed');
      }
    }
  }

  /** A message's size limit: MAX_BATCH_BYTES, or the server's max_payload if that is smaller. */
  private maxMessageBytes(): number {
    return Math.min(MAX_BATCH_BYTES, this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES);
  }

  private append(subject: string, id: Uint8Array, seq: number, body: FrameBody, streamId: string, open: { replyPrefix: string } | undefined): string | undefined {
    const size = this.encoder.measure(id, seq, body);
    let batch = this.openBatches.get(subject);
    const maxBytes = this.maxMessageBytes();
    if (batch !== undefined && batch.frames > 0 && batch.bytes + size > maxBytes) {
      this.openBatches.delete(subject); // full: it leaves as it is, a new message follows it
      batch = undefined;
    }
    if (batch === undefined) batch = this.startBatch(subject, size);
    if (open !== undefined && batch.reply === undefined) {
      this.tokenCounter += 1;
      batch.token = String(this.tokenCounter);
      batch.reply = `${open.replyPrefix}${batch.token}`;
    }
    const messageOffset = batch.bytes;
    const at = this.reserve(batch, size);
    this.encoder.write(this.slab, at, id, seq, body);
    batch.frames += 1;
    batch.lastData =
      body.type === FrameType.Data
        ? { streamId, seq, slab: this.slab, lengthAt: at + FRAME_FIXED_HEADER_BYTES - 4 + id.byteLength, payloadBytes: body.payload.byteLength }
        : undefined;
    if (open !== undefined) {
      const flagsAt = at + FRAME_FIXED_HEADER_BYTES + id.byteLength + 4;
      this.queuedOpens.set(streamId, { batch, slab: this.slab, flagsAt, messageOffset, length: size });
    }
    return batch.token;
  }

  private startBatch(subject: string, firstFrameBytes: number): Batch {
    // A message should sit in one run of one slab: start a fresh slab rather than the last few bytes of this one.
    const left = this.slab.length - this.slabUsed;
    if (left < MESSAGE_HEADER_BYTES + firstFrameBytes || left < SLAB_FRESH_BATCH_MIN_BYTES) this.newSlab(firstFrameBytes);
    const batch: Batch = {
      subject,
      reply: undefined,
      token: undefined,
      pieces: [],
      slab: this.slab,
      start: this.slabUsed,
      end: this.slabUsed,
      bytes: 0,
      frames: 0,
      withdrawn: undefined,
      lastData: undefined,
    };
    writeMessageHeader(this.slab, this.reserve(batch, MESSAGE_HEADER_BYTES));
    this.batches.push(batch);
    this.openBatches.set(subject, batch);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drainBound);
    }
    return batch;
  }

  /** Room for `bytes` more in the batch, at the end of its current run when it can; returns the offset in this.slab. */
  private reserve(batch: Batch, bytes: number): number {
    if (this.slab.length - this.slabUsed < bytes) this.newSlab(bytes);
    const at = this.slabUsed;
    this.slabUsed += bytes;
    if (batch.slab === this.slab && batch.end === at) {
      batch.end += bytes;
    } else {
      if (batch.end > batch.start) batch.pieces.push(batch.slab.subarray(batch.start, batch.end));
      batch.slab = this.slab;
      batch.start = at;
      batch.end = at + bytes;
    }
    batch.bytes += bytes;
    return at;
  }

  private newSlab(atLeastBytes: number): void {
    // The old slab stays alive only while a message still points into it (nats.js copies at publish).
    this.slab = Buffer.allocUnsafeSlow(Math.max(PUBLISH_SLAB_BYTES, atLeastBytes + MESSAGE_HEADER_BYTES));
    this.slabUsed = 0;
  }

  private flushDeferred(): void {
    const resets = this.deferredResets;
    this.deferredResets = [];
    for (const { subject, frame } of resets) this.publish(subject, frame);
    if (resets.length > 0) this.log.info({ resets: resets.length }, 'NATS reconnected: sent the held-back stream resets');
  }
}

/** The bytes of a batch as one message, without the OPENs taken back. */
function messageOf(batch: Batch): Uint8Array {
  const run = batch.slab.subarray(batch.start, batch.end);
  const whole = batch.pieces.length === 0 ? run : Buffer.concat([...batch.pieces, run]);
  if (batch.withdrawn === undefined) return whole;
  const cuts = batch.withdrawn.sort((a, b) => a[0] - b[0]);
  const kept: Buffer[] = [];
  let from = 0;
  for (const [offset, length] of cuts) {
    kept.push(whole.subarray(from, offset));
    from = offset + length;
  }
  kept.push(whole.subarray(from));
  return Buffer.concat(kept);
}
