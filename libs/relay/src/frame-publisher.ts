import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { encodeFrame } from './codec.js';
import { MAX_DEFERRED_RESETS } from './defaults.js';
import { FrameType, type Frame } from './frames.js';

/** A frame encoded and waiting for the end of the event-loop turn. */
interface QueuedFrame {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly requestId: string;
  readonly reply: string | undefined;
  /** Taken back before it left (withdrawOpen): skipped by drain(). */
  withdrawn: boolean;
}

/**
 * Publishes frames on a NATS connection that may drop. NATS core is at-most-once: frames in flight
 * during a disconnect are gone, so the owner resets its streams as soon as the connection drops
 * (onDisconnect) instead of waiting for a sequence gap or the idle timeout. nats.js discards what
 * was published while disconnected, so RESETs are held back and sent after the reconnect: the
 * peer frees its side too.
 *
 * Frames are encoded at once and handed to nats.js together once per event-loop turn
 * (setImmediate): nats.js writes its socket once per microtask checkpoint, so publishing as
 * frames are made costs one write (and one wake-up of nats-server) per I/O callback, while a
 * turn's batch costs one. Order is kept: every frame goes through the one queue.
 */
export class FramePublisher {
  private connected = true;
  private deferredResets: Array<{ subject: string; frame: Frame }> = [];
  private stopWatching: (() => void) | undefined;
  /** Encoded frames waiting for the end of this event-loop turn. */
  private queue: QueuedFrame[] = [];
  /** The OPENs in `queue`, by stream id: a stream destroyed before its OPEN left takes it back. */
  private readonly queuedOpens = new Map<string, QueuedFrame>();
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

  /**
   * Encodes the frame and queues it for this turn's batch; false when the connection cannot
   * take it (closed). With `reply`, the message carries that reply subject: nats-server then
   * answers "no responders" (a 503 status message) there when nobody subscribes `subject`.
   */
  publish(subject: string, frame: Frame, reply?: string): boolean {
    if (!this.connected && frame.type === FrameType.Reset) {
      if (this.deferredResets.length < MAX_DEFERRED_RESETS) this.deferredResets.push({ subject, frame });
      return true;
    }
    if (this.nc.isClosed()) {
      this.log.warn({ request_id: frame.streamId, err_message: 'connection closed' }, 'relay publish failed');
      return false;
    }
    const queued: QueuedFrame = { subject, data: encodeFrame(frame), requestId: frame.streamId, reply, withdrawn: false };
    this.queue.push(queued);
    if (frame.type === FrameType.Open) this.queuedOpens.set(frame.streamId, queued);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drainBound);
    }
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
    queued.withdrawn = true;
    return true;
  }

  /** Hands the queued frames to nats.js now (also run before a flush, so nothing is left behind). */
  drain(): void {
    this.drainScheduled = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    this.queuedOpens.clear();
    for (const { subject, data, requestId, reply, withdrawn } of queue) {
      if (withdrawn) continue;
      try {
        this.nc.publish(subject, data, reply === undefined ? undefined : { reply });
      } catch (err) {
        this.log.warn({ request_id: requestId, err_message: errorMessageOf(err) }, 'relay publish failed');
      }
    }
  }

  private flushDeferred(): void {
    const resets = this.deferredResets;
    this.deferredResets = [];
    for (const { subject, frame } of resets) this.publish(subject, frame);
    if (resets.length > 0) this.log.info({ resets: resets.length }, 'NATS reconnected: sent the held-back stream resets');
  }
}
