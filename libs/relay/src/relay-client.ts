import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ErrorCode, HopError, errorMessageOf } from '@hopgate/errors';
import type { NatsSubjects } from '@hopgate/keys';
import { containedCallback, type Logger, silentLogger } from '@hopgate/log';
import { RelayEndpoint, assertSubscribed } from './relay-endpoint.js';
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_OPEN_TIMEOUT_MS,
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  DEFAULT_WINDOW_BYTES,
  MAX_HEAD_BYTES,
  MAX_STREAM_ID_BYTES,
} from './defaults.js';
import { FrameType, INGRESS_INBOUND_TYPES, OPEN_REPLY_TYPES } from './frames.js';
import { Inbound } from './inbound.js';
import { chunkOption, idOption, timeoutOption, windowOption } from './options.js';
import { PeerLiveness } from './peer-liveness.js';
import { RelayClientStream } from './relay-client-stream.js';
import type { StreamLink } from './relay-stream.js';

export interface RelayClientOptions {
  nc: NatsConnection;
  subjects: NatsSubjects;
  /** This ingress replica's id: names its subject and prefixes every request id. */
  ingressId: string;
  /** Receive window for response bodies; default DEFAULT_WINDOW_BYTES (32 x 30 KiB). */
  windowBytes?: number;
  /** Largest DATA payload for request bodies; default DEFAULT_CHUNK_BYTES (30 KiB). */
  chunkBytes?: number;
  /** Time for the hub to ACCEPT or REJECT; default DEFAULT_OPEN_TIMEOUT_MS (5 s). */
  openTimeoutMs?: number;
  /** A stream silent both ways this long is reset; default DEFAULT_STREAM_IDLE_TIMEOUT_MS (5 min). */
  idleTimeoutMs?: number;
  /** While streams to a hub are open, PING it this often; default DEFAULT_PEER_PROBE_INTERVAL_MS (2 s). */
  peerProbeIntervalMs?: number;
  /** A PING without PONG this long is a miss; default DEFAULT_PEER_PROBE_TIMEOUT_MS (2 s). */
  peerProbeTimeoutMs?: number;
  /** Misses in a row after which the hub is gone (its streams fail ERR_CLIENT_OFFLINE); default MAX_PEER_PROBE_MISSES (2). */
  peerProbeMaxMisses?: number;
  /** Default silentLogger(). */
  logger?: Logger;
}

/** Infix of OPEN reply subjects: `<ingress subject>.open.<n>` (docs/nats.md). */
const OPEN_REPLY_INFIX = '.open.';
/** nats-server answers a message with a reply subject and no subscriber with an empty 503 status message (NATS ADR-13 "no responders"). */
const NO_RESPONDERS_STATUS = 503;

/** The streams whose OPENs left in one message (one reply token), still waiting for ACCEPT or REJECT. */
interface PendingOpens {
  readonly streams: Set<RelayClientStream>;
  /** One open timeout for all of them (they left together). */
  readonly timer: NodeJS.Timeout;
}

function isNoResponders(msg: Msg): boolean {
  return msg.data.length === 0 && msg.headers?.code === NO_RESPONDERS_STATUS;
}

/** Random per-process part of request ids, so that a restarted ingress never reuses one. */
const BOOT_NONCE_BYTES = 4;
/** Room kept in a stream id for the boot nonce and the counter. */
const STREAM_ID_SUFFIX_MAX_BYTES = 2 * BOOT_NONCE_BYTES + 2 + 16;

/**
 * The ingress side of the relay: opens streams to hubs over one subscription on
 * subjects.ingress(ingressId), multiplexed by request id (no per-request subscriptions).
 */
export class RelayClient {
  private readonly nc: NatsConnection;
  private readonly subjects: NatsSubjects;
  private readonly ingressId: string;
  private readonly subject: string;
  private readonly windowBytes: number;
  private readonly chunkBytes: number;
  private readonly openTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly log: Logger;
  private readonly requestIdPrefix: string;
  /** `<ingressId>-`: every request id this client opens starts with it (the ingress mints them). */
  private readonly ownIdPrefix: string;
  private readonly endpoint: RelayEndpoint<RelayClientStream>;
  private readonly streams: Map<string, RelayClientStream>;
  private readonly inbound: Inbound;
  private readonly link: StreamLink;
  private readonly liveness: PeerLiveness;
  private counter = 0;
  /** `<ingress subject>.open.`: OPEN n carries the reply subject `<prefix><n>` (n = its request id's counter). */
  private readonly openReplyPrefix: string;
  /** Streams whose OPEN has no answer yet, by the token of the reply subject of the message that carried them. */
  private readonly pendingOpens = new Map<string, PendingOpens>();
  private readonly settledBound = (stream: RelayClientStream): void => this.onOpenSettled(stream);
  private openReplySubscription: Subscription | undefined;

  constructor(options: RelayClientOptions) {
    this.nc = options.nc;
    this.subjects = options.subjects;
    this.ingressId = idOption('ingressId', options.ingressId);
    this.subject = this.subjects.ingress(this.ingressId);
    this.windowBytes = windowOption(options.windowBytes ?? DEFAULT_WINDOW_BYTES);
    this.chunkBytes = chunkOption(options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.openTimeoutMs = timeoutOption('openTimeoutMs', options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS);
    this.idleTimeoutMs = timeoutOption('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS);
    this.log = (options.logger ?? silentLogger()).child({ component: 'relay-client' });
    this.ownIdPrefix = `${this.ingressId}-`;
    this.requestIdPrefix = `${this.ownIdPrefix}${randomBytes(BOOT_NONCE_BYTES).toString('hex')}-`;
    this.openReplyPrefix = `${this.subject}${OPEN_REPLY_INFIX}`;
    if (Buffer.byteLength(this.requestIdPrefix) + STREAM_ID_SUFFIX_MAX_BYTES > MAX_STREAM_ID_BYTES) {
      throw new HopError(ErrorCode.BadConfig, 'ingressId is too long for a request id');
    }
    this.endpoint = new RelayEndpoint<RelayClientStream>({
      nc: this.nc,
      subject: this.subject,
      log: this.log,
      inboundTypes: INGRESS_INBOUND_TYPES,
      nodeId: this.ingressId,
      probes: options,
      goneError: (hubId, reason) => new HopError(ErrorCode.ClientOffline, `hub ${hubId} is gone: ${reason}`),
    });
    ({ streams: this.streams, inbound: this.inbound, link: this.link, liveness: this.liveness } = this.endpoint);
  }

  /** Open streams (every stream from open() until it is closed). */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Whether NATS is reachable now. While it is not, an OPEN could only time out, so callers
   * answer at once instead (the ingress: 503 with Retry-After).
   */
  /** Times a writer on this node waited for the peer's CREDIT (monotonic): a window too small for the path shows here. */
  get creditStalls(): number {
    return this.endpoint.creditStalls;
  }

  get connected(): boolean {
    return this.endpoint.publisher.isConnected;
  }

  /** Frames dropped as garbage since start. */
  get droppedFrameCount(): number {
    return this.inbound.droppedFrameCount;
  }

  /** Subscribes subjects.ingress(ingressId); resolves once the server has the subscription. */
  async start(): Promise<void> {
    if (this.openReplySubscription === undefined) {
      this.openReplySubscription = this.nc.subscribe(`${this.openReplyPrefix}*`, {
        callback: containedCallback(this.log, 'relay OPEN-reply handling', (err, msg) => {
          if (err) this.log.warn({ err_message: err.message }, 'relay OPEN-reply subscription error');
          else this.onOpenReply(msg);
        }),
      });
    }
    await this.endpoint.start((msg) => this.onMessage(msg), 'relay client started');
    assertSubscribed(this.openReplySubscription, `${this.openReplyPrefix}*`);
  }

  /** Resets every open stream (they error with ERR_CLOSED), then unsubscribes. */
  async close(): Promise<void> {
    const subscription = this.endpoint.detach();
    if (subscription === undefined) return;
    this.endpoint.resetAll(new HopError(ErrorCode.Closed, 'relay client closed'));
    subscription.unsubscribe();
    this.openReplySubscription?.unsubscribe();
    this.openReplySubscription = undefined;
    await this.endpoint.flush();
  }

  /**
   * A request id of the same form the ingress mints (`<ingressId>-<boot nonce>-<counter>`, unique
   * cluster-wide), for library callers without ids of their own (tests, benches). The ingress
   * passes its own ids to `open()`.
   */
  nextRequestId(): string {
    this.counter += 1;
    return `${this.requestIdPrefix}${this.counter}`;
  }

  /**
   * Opens a stream to a hub. OPEN goes in this turn's message to the hub, which carries a reply
   * subject of its own (`<ingress subject>.open.<n>`, one n per message): nats-server answers
   * "no responders" there when the hub is not subscribed, which fails the message's streams at
   * once with ERR_CLIENT_OFFLINE. The hub answers ACCEPT or REJECT on the ingress subject. No
   * answer within openTimeoutMs fails the stream with ERR_TIMEOUT. Request body writes wait for
   * ACCEPT; an end() in the same turn as open() (a GET) sets FIN on the OPEN instead of an END.
   */
  open(hubId: string, head: Uint8Array, requestId: string = this.nextRequestId()): RelayClientStream {
    if (!this.endpoint.started) throw new HopError(ErrorCode.Closed, 'relay client is not started');
    if (head.byteLength > MAX_HEAD_BYTES) {
      throw new HopError(ErrorCode.BadFrame, `request head of ${head.byteLength} bytes exceeds ${MAX_HEAD_BYTES}`);
    }
    // Stream ids are unique on a hub only if each ingress keeps to ids that start with its own id.
    if (!requestId.startsWith(this.ownIdPrefix) || Buffer.byteLength(requestId) > MAX_STREAM_ID_BYTES || this.streams.has(requestId)) {
      throw new HopError(ErrorCode.Internal, `request id ${requestId} does not start with "${this.ownIdPrefix}", is over ${MAX_STREAM_ID_BYTES} bytes, or is in use`);
    }
    const hubSubject = this.subjects.hub(hubId);
    const stream = new RelayClientStream({
      requestId,
      hubId,
      side: 'ingress',
      link: this.link,
      peerSubject: hubSubject,
      windowBytes: this.windowBytes,
      chunkBytes: this.chunkBytes,
      idleTimeoutMs: this.idleTimeoutMs,
      logger: this.log,
      sendSeq: 1,
      receiveSeq: 0,
      onOpenSettled: this.settledBound,
    });
    this.streams.set(requestId, stream);
    this.liveness.track(stream, hubSubject, hubId);
    const token = this.endpoint.publisher.publishOpen(
      hubSubject,
      stream.idBytes,
      { type: FrameType.Open, windowBytes: this.windowBytes, replyTo: this.subject, head },
      requestId,
      this.openReplyPrefix,
    );
    if (token === undefined) {
      stream.failOpen(new HopError(ErrorCode.Closed, `OPEN to hub ${hubId} failed: NATS connection closed`), false);
      return stream;
    }
    let pending = this.pendingOpens.get(token);
    if (pending === undefined) {
      pending = { streams: new Set(), timer: setTimeout(() => this.onOpenTimeout(token), this.openTimeoutMs) };
      this.pendingOpens.set(token, pending);
    }
    pending.streams.add(stream);
    stream.openToken = token;
    return stream;
  }

  /** A stream left Opening (ACCEPT, REJECT, destroyed): it no longer waits with its message's others. */
  private onOpenSettled(stream: RelayClientStream): void {
    const token = stream.openToken;
    if (token === undefined) return;
    stream.openToken = undefined;
    const pending = this.pendingOpens.get(token);
    if (pending === undefined) return;
    pending.streams.delete(stream);
    if (pending.streams.size > 0) return;
    clearTimeout(pending.timer);
    this.pendingOpens.delete(token);
  }

  private onOpenTimeout(token: string): void {
    const pending = this.pendingOpens.get(token);
    if (pending === undefined) return;
    this.pendingOpens.delete(token);
    for (const stream of [...pending.streams]) {
      stream.failOpen(new HopError(ErrorCode.Timeout, `no ACCEPT from hub ${stream.hubId} within ${this.openTimeoutMs} ms`), true);
    }
  }

  /**
   * A message on `<ingress subject>.open.<n>`: nats-server's "no responders" for the OPENs of
   * message n, or REJECT / ACCEPT frames from a hub that answers there (a REJECT of an OPEN that
   * named no ingress subject).
   */
  private onOpenReply(msg: Msg): void {
    const token = msg.subject.slice(this.openReplyPrefix.length);
    const pending = this.pendingOpens.get(token);
    if (pending === undefined) {
      this.log.debug({ subject: msg.subject }, 'answer to an OPEN that is no longer waiting dropped');
      return;
    }
    if (isNoResponders(msg)) {
      this.pendingOpens.delete(token);
      clearTimeout(pending.timer);
      for (const stream of [...pending.streams]) {
        stream.failOpen(new HopError(ErrorCode.ClientOffline, `hub ${stream.hubId} is not subscribed (no responders)`), false);
      }
      return;
    }
    const frames = this.inbound.decode(msg.data, msg.subject, OPEN_REPLY_TYPES);
    if (frames === undefined) {
      this.pendingOpens.delete(token);
      clearTimeout(pending.timer);
      for (const stream of [...pending.streams]) {
        stream.failOpen(new HopError(ErrorCode.Protocol, `hub ${stream.hubId} answered OPEN with garbage`), true);
      }
      return;
    }
    for (const frame of frames) {
      const stream = this.streams.get(frame.streamId);
      if (stream !== undefined && pending.streams.has(stream)) this.inbound.deliver(stream, frame);
    }
  }

  private onMessage(msg: Msg): void {
    const frames = this.inbound.decode(msg.data, msg.subject);
    if (frames === undefined) return;
    for (const frame of frames) {
      if (frame.type === FrameType.Ping) {
        this.liveness.answer(msg, frame);
        continue;
      }
      const stream = this.streams.get(frame.streamId);
      if (stream === undefined) {
        this.log.debug({ request_id: frame.streamId, frame_type: frame.type }, 'frame for a closed stream dropped');
        continue;
      }
      this.inbound.deliver(stream, frame);
    }
  }
}
