import { EventEmitter } from 'node:events';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, HopError, errorMessageOf } from '@hopgate/errors';
import type { NatsSubjects } from '@hopgate/keys';
import { type Logger, silentLogger } from '@hopgate/log';
import { RelayEndpoint } from './relay-endpoint.js';
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MAX_STREAMS,
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  DEFAULT_WINDOW_BYTES,
} from './defaults.js';
import { FrameType, HUB_INBOUND_TYPES, type OpenFrame } from './frames.js';
import { Inbound } from './inbound.js';
import { chunkOption, idOption, intOption, timeoutOption, windowOption } from './options.js';
import { PeerLiveness } from './peer-liveness.js';
import { RelayServerStream } from './relay-server-stream.js';
import type { StreamLink } from './relay-stream.js';

export interface RelayServerOptions {
  nc: NatsConnection;
  subjects: NatsSubjects;
  /** This hub's id: names its subject (subjects.hub(hubId)). */
  hubId: string;
  /** Receive window for request bodies; default DEFAULT_WINDOW_BYTES (32 x 30 KiB). */
  windowBytes?: number;
  /** Largest DATA payload for response bodies; default DEFAULT_CHUNK_BYTES (30 KiB). */
  chunkBytes?: number;
  /** A stream silent both ways this long is reset; default DEFAULT_STREAM_IDLE_TIMEOUT_MS (5 min). */
  idleTimeoutMs?: number;
  /** Streams held at once; more OPENs are rejected with ERR_BUSY. Default DEFAULT_MAX_STREAMS. */
  maxStreams?: number;
  /** While streams with an ingress are open, PING it this often; default DEFAULT_PEER_PROBE_INTERVAL_MS (2 s). */
  peerProbeIntervalMs?: number;
  /** A PING without PONG this long is a miss; default DEFAULT_PEER_PROBE_TIMEOUT_MS (2 s). */
  peerProbeTimeoutMs?: number;
  /** Misses in a row after which the ingress is gone (its streams fail ERR_CLOSED); default MAX_PEER_PROBE_MISSES (2). */
  peerProbeMaxMisses?: number;
  /** Default silentLogger(). */
  logger?: Logger;
}

export interface RelayServerEvents {
  /** A new stream: call accept() / respond() or reject() on it. Without a listener OPENs are rejected. */
  open: [stream: RelayServerStream];
}

/** Subject tokens cannot hold these (see libs/keys). */
const SUBJECT_TOKEN = /^[^.*>\s]+$/;

/**
 * The hub side of the relay: one subscription on subjects.hub(hubId) takes the OPEN requests and
 * every ingress -> hub frame, multiplexed by request id.
 */
export class RelayServer extends EventEmitter<RelayServerEvents> {
  private readonly nc: NatsConnection;
  private readonly hubId: string;
  private readonly subject: string;
  private readonly ingressSubjectPrefix: string;
  private readonly windowBytes: number;
  private readonly chunkBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly maxStreams: number;
  private readonly log: Logger;
  private readonly endpoint: RelayEndpoint<RelayServerStream>;
  private readonly streams: Map<string, RelayServerStream>;
  private readonly inbound: Inbound;
  private readonly link: StreamLink;
  private readonly liveness: PeerLiveness;

  constructor(options: RelayServerOptions) {
    super();
    this.nc = options.nc;
    this.hubId = idOption('hubId', options.hubId);
    this.subject = options.subjects.hub(this.hubId);
    this.ingressSubjectPrefix = options.subjects.ingress('');
    this.windowBytes = windowOption(options.windowBytes ?? DEFAULT_WINDOW_BYTES);
    this.chunkBytes = chunkOption(options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.idleTimeoutMs = timeoutOption('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS);
    this.maxStreams = intOption('maxStreams', options.maxStreams ?? DEFAULT_MAX_STREAMS, 1, Number.MAX_SAFE_INTEGER);
    this.log = (options.logger ?? silentLogger()).child({ component: 'relay-server' });
    this.endpoint = new RelayEndpoint<RelayServerStream>({
      nc: this.nc,
      subject: this.subject,
      log: this.log,
      inboundTypes: HUB_INBOUND_TYPES,
      nodeId: this.hubId,
      probes: options,
      goneError: (ingress, reason) => new HopError(ErrorCode.Closed, `ingress ${ingress} is gone: ${reason}`),
    });
    ({ streams: this.streams, inbound: this.inbound, link: this.link, liveness: this.liveness } = this.endpoint);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Frames dropped as garbage since start. */
  get droppedFrameCount(): number {
    return this.inbound.droppedFrameCount;
  }

  /** Whether NATS is reachable now (false between a disconnect and the reconnect): for readiness. */
  /** Times a writer on this node waited for the peer's CREDIT (monotonic): a window too small for the path shows here. */
  get creditStalls(): number {
    return this.endpoint.creditStalls;
  }

  get connected(): boolean {
    return this.endpoint.publisher.isConnected;
  }

  /** Subscribes subjects.hub(hubId); resolves once the server has the subscription. */
  async start(): Promise<void> {
    await this.endpoint.start((msg) => this.onMessage(msg), 'relay server started');
  }

  /** Unsubscribes first (new OPENs then fail fast with no responders), then resets every stream. */
  async close(): Promise<void> {
    const subscription = this.endpoint.detach();
    if (subscription === undefined) return;
    subscription.unsubscribe();
    this.endpoint.resetAll(new HopError(ErrorCode.Closed, 'relay server closed'));
    await this.endpoint.flush();
  }

  private onMessage(msg: Msg): void {
    const frames = this.inbound.decode(msg.data, msg.subject);
    if (frames === undefined) return;
    for (const frame of frames) {
      if (frame.type === FrameType.Open) {
        this.onOpen(frame, msg);
        continue;
      }
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

  private onOpen(frame: OpenFrame, msg: Msg): void {
    const reply = msg.reply;
    if (reply === undefined || reply === '') {
      this.inbound.drop(msg.subject, msg.data.byteLength, 'OPEN without a reply subject (not sent as a request)');
      return;
    }
    if (frame.seq !== 0) {
      this.inbound.drop(msg.subject, msg.data.byteLength, `OPEN with seq ${frame.seq}`);
      return;
    }
    /** REJECT goes where ACCEPT would (the ingress subject), or to the message's reply subject when OPEN names none. */
    const reject = (code: ErrorCode, message: string, subject = frame.replyTo): void => {
      this.log.warn({ request_id: frame.streamId, err_code: code, reason: message }, 'relay OPEN rejected');
      this.endpoint.publisher.publish(subject, { type: FrameType.Reject, streamId: frame.streamId, seq: 0, code, message });
    };
    const ingressToken = frame.replyTo.slice(this.ingressSubjectPrefix.length);
    if (!frame.replyTo.startsWith(this.ingressSubjectPrefix) || !SUBJECT_TOKEN.test(ingressToken)) {
      return reject(ErrorCode.BadFrame, `OPEN names ${frame.replyTo}, not an ingress subject`, reply);
    }
    if (this.streams.has(frame.streamId)) return reject(ErrorCode.Protocol, `duplicate stream id ${frame.streamId}`);
    if (this.streams.size >= this.maxStreams) return reject(ErrorCode.Busy, `hub ${this.hubId} holds ${this.maxStreams} streams`);
    if (this.listenerCount('open') === 0) return reject(ErrorCode.Internal, `hub ${this.hubId} has no stream handler`);

    const stream = new RelayServerStream({
      requestId: frame.streamId,
      side: 'hub',
      link: this.link,
      peerSubject: frame.replyTo,
      head: frame.head,
      fin: frame.fin === true,
      peerWindowBytes: frame.windowBytes,
      windowBytes: this.windowBytes,
      chunkBytes: this.chunkBytes,
      idleTimeoutMs: this.idleTimeoutMs,
      logger: this.log,
      sendSeq: 0,
      receiveSeq: 1,
    });
    this.streams.set(frame.streamId, stream);
    this.liveness.track(stream, frame.replyTo, frame.replyTo);
    try {
      this.emit('open', stream);
    } catch (err) {
      this.log.error({ request_id: frame.streamId, err_message: errorMessageOf(err) }, 'relay open listener threw');
      stream.destroy(new HopError(ErrorCode.Internal, 'hub failed to take the stream', { cause: err }));
    }
  }
}
