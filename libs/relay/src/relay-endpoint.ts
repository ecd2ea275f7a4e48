import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ErrorCode, HopError } from '@hopgate/errors';
import { containedCallback, type Logger } from '@hopgate/log';
import { FramePublisher } from './frame-publisher.js';
import type { FrameType } from './frames.js';
import { DEFAULT_PEER_PROBE_INTERVAL_MS, DEFAULT_PEER_PROBE_TIMEOUT_MS, MAX_PEER_PROBE_MISSES } from './defaults.js';
import { Inbound } from './inbound.js';
import { missesOption, timeoutOption } from './options.js';
import { PeerLiveness, type PeerLivenessInit } from './peer-liveness.js';
import type { RelayStream, StreamLink } from './relay-stream.js';

export interface RelayEndpointOptions {
  nc: NatsConnection;
  /** The one subject this node listens on. */
  subject: string;
  log: Logger;
  /** Frame types this node accepts; others are dropped as garbage. */
  inboundTypes: ReadonlySet<FrameType>;
  /** This node's id: names the prober in its PINGs. */
  nodeId: string;
  /** Probe options as the caller got them (defaults applied here). */
  probes: { peerProbeIntervalMs?: number; peerProbeTimeoutMs?: number; peerProbeMaxMisses?: number };
  /** The error the streams with a gone (or restarted) peer fail with. */
  goneError: PeerLivenessInit['goneError'];
}

/**
 * Throws when the server refused (or closed) a subscription: call it after a flush, by which
 * time a permission violation has closed the subscription. A node that cannot receive its
 * frames must not start as if it could.
 */
export function assertSubscribed(subscription: Subscription, subject: string): void {
  if (!subscription.isClosed()) return;
  throw new HopError(
    ErrorCode.AuthFailed,
    `NATS refused the subscription to ${subject}: check this user's subscribe permissions in the server config (docs/nats.md, Users and permissions)`,
  );
}

/**
 * What the ingress and the hub side of the relay share: the stream table, the garbage filter,
 * the publisher, peer liveness, and the lifecycle of the node's one subscription.
 */
export class RelayEndpoint<S extends RelayStream> {
  readonly streams = new Map<string, S>();
  readonly inbound: Inbound;
  readonly publisher: FramePublisher;
  readonly liveness: PeerLiveness;
  readonly link: StreamLink;
  /** Times a writer of this node waited for the peer's CREDIT (monotonic; hopgate_relay_credit_stalls_total). */
  creditStalls = 0;
  private subscription: Subscription | undefined;

  constructor(private readonly options: RelayEndpointOptions) {
    this.inbound = new Inbound(options.log, options.inboundTypes);
    this.publisher = new FramePublisher(options.nc, options.log);
    const { probes } = options;
    this.liveness = new PeerLiveness({
      nc: options.nc,
      log: options.log,
      inbound: this.inbound,
      nodeId: options.nodeId,
      intervalMs: timeoutOption('peerProbeIntervalMs', probes.peerProbeIntervalMs ?? DEFAULT_PEER_PROBE_INTERVAL_MS),
      timeoutMs: timeoutOption('peerProbeTimeoutMs', probes.peerProbeTimeoutMs ?? DEFAULT_PEER_PROBE_TIMEOUT_MS),
      maxMisses: missesOption(probes.peerProbeMaxMisses ?? MAX_PEER_PROBE_MISSES),
      goneError: options.goneError,
    });
    this.link = {
      publish: (subject, id, seq, body, streamId) => this.publisher.publishFrame(subject, id, seq, body, streamId),
      extendData: (subject, seq, payload, streamId, maxPayloadBytes) => this.publisher.extendData(subject, seq, payload, streamId, maxPayloadBytes),
      release: (stream) => {
        if (this.streams.get(stream.requestId) === stream) this.streams.delete(stream.requestId);
        this.liveness.untrack(stream);
      },
      withdrawOpen: (stream) => this.publisher.withdrawOpen(stream.requestId),
      finishOpen: (stream) => this.publisher.finishOpen(stream.requestId),
      creditStalled: () => {
        this.creditStalls += 1;
      },
    };
  }

  get started(): boolean {
    return this.subscription !== undefined;
  }

  /** Subscribes the node's subject; resolves once the server has the subscription. */
  async start(onMessage: (msg: Msg) => void, startedMessage: string): Promise<void> {
    if (this.subscription !== undefined) return;
    const { nc, subject, log } = this.options;
    this.subscription = nc.subscribe(subject, {
      callback: containedCallback(log, 'relay frame handling', (err, msg) => {
        if (err) log.warn({ err_message: err.message }, 'relay subscription error');
        else onMessage(msg);
      }),
    });
    this.publisher.watch((server) => {
      if (this.streams.size === 0) return;
      log.warn({ server, streams: this.streams.size }, 'NATS disconnected: resetting relay streams');
      this.resetAll(new HopError(ErrorCode.Closed, 'NATS connection lost'));
    });
    await nc.flush();
    // A refused subscription (-ERR before the flush's PONG) is closed by nats.js by now.
    assertSubscribed(this.subscription, subject);
    log.info({ subject }, startedMessage);
  }

  /** Stops publishing and probing and hands back the subscription (undefined if not started). */
  detach(): Subscription | undefined {
    const subscription = this.subscription;
    if (subscription === undefined) return undefined;
    this.subscription = undefined;
    this.publisher.stop();
    this.liveness.stop();
    return subscription;
  }

  resetAll(error: HopError): void {
    for (const stream of [...this.streams.values()]) stream.destroy(error);
  }

  /** Waits for what was published to leave, unless the connection is gone. */
  async flush(): Promise<void> {
    this.publisher.drain();
    if (!this.options.nc.isClosed()) await this.options.nc.flush().catch(() => undefined);
  }
}
