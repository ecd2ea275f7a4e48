import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RequestError, TimeoutError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, HopError, errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import { encodeFrame } from './codec.js';
import { MAX_STREAM_ID_BYTES, PEER_INSTANCE_ID_BYTES } from './defaults.js';
import { FrameType, PING_REPLY_TYPES, type PingFrame } from './frames.js';
import type { Inbound } from './inbound.js';
import type { RelayStream } from './relay-stream.js';

export interface PeerLivenessInit {
  nc: NatsConnection;
  log: Logger;
  inbound: Inbound;
  /** This node's id (ingressId / hubId): names the prober in its PINGs. */
  nodeId: string;
  intervalMs: number;
  timeoutMs: number;
  maxMisses: number;
  /** The error the streams with a peer that is gone (or restarted) fail with. */
  goneError(peerName: string, reason: string): HopError;
}

/** One peer node this node has streams with, and the state of the probes to it. */
interface Peer {
  readonly subject: string;
  /** For logs and errors: the hub id (ingress side) or the ingress subject (hub side). */
  readonly name: string;
  /** Each stream, with the peer instance it is known to live on (undefined: opened before the first PONG). */
  readonly streams: Map<RelayStream, string | undefined>;
  /** From the first PONG; a different one later means the peer restarted. */
  instance: string | undefined;
  /** The peer answered PING at least once: only then does a probe without an answer count as a miss. */
  answers: boolean;
  misses: number;
  seq: number;
  timer: NodeJS.Timeout | undefined;
  lastProbeAt: number;
}

type ProbeOutcome =
  | { kind: 'pong'; instance: string }
  | { kind: 'no-responders' }
  | { kind: 'closed' }
  | { kind: 'miss'; reason: string };

/**
 * Peer liveness, one probe per peer node (not per stream). While this node has at least one stream
 * with a peer, it sends that peer a PING as a NATS request every intervalMs (never two at once).
 *
 *   PONG                                   -> alive: misses = 0 (a new instance id: the peer
 *                                             restarted, its streams from before are gone)
 *   "no responders" (subscription gone)    -> gone at once
 *   no PONG within timeoutMs               -> a miss; maxMisses in a row -> gone
 *
 * "Gone" destroys every stream with that peer (goneError), which frees them. A peer that has never
 * answered a PING (a node of an older version drops PING as garbage) is not declared gone by
 * misses, only by "no responders". The other half, answer(), replies PONG to the peer's PINGs.
 */
export class PeerLiveness {
  /** This node's instance id, sent in every PONG. */
  readonly instance = randomBytes(PEER_INSTANCE_ID_BYTES).toString('hex');
  private readonly peers = new Map<string, Peer>();
  private readonly peerOf = new Map<RelayStream, Peer>();
  private readonly probeId: string;

  constructor(private readonly init: PeerLivenessInit) {
    // The PING's stream-id field names the prober; a node id too long for it falls back to the instance.
    this.probeId = Buffer.byteLength(init.nodeId) <= MAX_STREAM_ID_BYTES ? init.nodeId : this.instance;
  }

  /** A stream with the peer node at peerSubject: the first one starts the probes to that peer. */
  track(stream: RelayStream, peerSubject: string, peerName: string): void {
    let peer = this.peers.get(peerSubject);
    if (peer === undefined) {
      peer = {
        subject: peerSubject,
        name: peerName,
        streams: new Map(),
        instance: undefined,
        answers: false,
        misses: 0,
        seq: 0,
        timer: undefined,
        lastProbeAt: performance.now(),
      };
      this.peers.set(peerSubject, peer);
      this.schedule(peer, this.init.intervalMs);
    }
    peer.streams.set(stream, peer.instance);
    this.peerOf.set(stream, peer);
  }

  /** The stream is closed: the last one with a peer stops the probes to it. */
  untrack(stream: RelayStream): void {
    const peer = this.peerOf.get(stream);
    if (peer === undefined) return;
    this.peerOf.delete(stream);
    peer.streams.delete(stream);
    if (peer.streams.size === 0) this.forget(peer);
  }

  /** Stops every probe (the owner closes; its streams are reset by the owner). */
  stop(): void {
    for (const peer of [...this.peers.values()]) this.forget(peer);
    this.peerOf.clear();
  }

  /** Answers a PING from a peer with PONG (this node's instance id), on the request's reply subject. */
  answer(msg: Msg, ping: PingFrame): void {
    if (msg.reply === undefined || msg.reply === '') {
      this.init.inbound.drop(msg.subject, msg.data.byteLength, 'PING without a reply subject (not sent as a request)');
      return;
    }
    try {
      msg.respond(encodeFrame({ type: FrameType.Pong, streamId: ping.streamId, seq: ping.seq, instance: this.instance }));
    } catch (err) {
      this.init.log.debug({ prober: ping.streamId, err_message: errorMessageOf(err) }, 'PONG not sent');
    }
  }

  private forget(peer: Peer): void {
    clearTimeout(peer.timer);
    peer.timer = undefined;
    if (this.peers.get(peer.subject) === peer) this.peers.delete(peer.subject);
  }

  private isCurrent(peer: Peer): boolean {
    return this.peers.get(peer.subject) === peer;
  }

  private schedule(peer: Peer, delayMs: number): void {
    peer.timer = setTimeout(() => this.probe(peer), Math.max(0, delayMs));
    peer.timer.unref();
  }

  private probe(peer: Peer): void {
    peer.timer = undefined;
    if (!this.isCurrent(peer)) return;
    peer.seq = (peer.seq + 1) >>> 0;
    peer.lastProbeAt = performance.now();
    const ping: PingFrame = { type: FrameType.Ping, streamId: this.probeId, seq: peer.seq };
    const sent = ping.seq;
    let outcome: Promise<ProbeOutcome>;
    try {
      outcome = this.init.nc.request(peer.subject, encodeFrame(ping), { timeout: this.init.timeoutMs }).then(
        (msg) => this.readPong(msg, sent),
        (err: unknown) => this.classify(err),
      );
    } catch (err) {
      outcome = Promise.resolve(this.classify(err));
    }
    outcome
      .then((result) => this.onOutcome(peer, result))
      .catch((err: unknown) => this.init.log.warn({ peer: peer.name, err_message: errorMessageOf(err) }, 'peer probe outcome could not be handled'));
  }

  private readPong(msg: Msg, seq: number): ProbeOutcome {
    const frame = this.init.inbound.decodeOne(msg.data, msg.subject, PING_REPLY_TYPES);
    if (frame?.type !== FrameType.Pong || frame.streamId !== this.probeId || frame.seq !== seq) {
      return { kind: 'miss', reason: 'PING answered with something other than its PONG' };
    }
    return { kind: 'pong', instance: frame.instance };
  }

  private classify(err: unknown): ProbeOutcome {
    if (err instanceof RequestError && err.isNoResponders()) return { kind: 'no-responders' };
    if (this.init.nc.isClosed()) return { kind: 'closed' };
    if (err instanceof TimeoutError) return { kind: 'miss', reason: `no PONG within ${this.init.timeoutMs} ms` };
    return { kind: 'miss', reason: `PING failed: ${errorMessageOf(err)}` };
  }

  private onOutcome(peer: Peer, outcome: ProbeOutcome): void {
    if (!this.isCurrent(peer)) return; // its streams closed meanwhile
    switch (outcome.kind) {
      case 'pong':
        peer.answers = true;
        peer.misses = 0;
        this.onInstance(peer, outcome.instance);
        break;
      case 'no-responders':
        return this.gone(peer, peer.streams.keys(), 'no responders: its NATS subscription is gone');
      case 'closed':
        return this.destroyAll(peer, peer.streams.keys(), new HopError(ErrorCode.Closed, 'NATS connection closed'));
      case 'miss':
        if (!peer.answers) {
          this.init.log.debug({ peer: peer.name, reason: outcome.reason }, 'peer has not answered PING yet: not counted');
          break;
        }
        peer.misses += 1;
        this.init.log.info({ peer: peer.name, misses: peer.misses, reason: outcome.reason }, 'peer probe missed');
        if (peer.misses >= this.init.maxMisses) {
          return this.gone(peer, peer.streams.keys(), `${peer.misses} probes in a row unanswered (${outcome.reason})`);
        }
        break;
    }
    if (this.isCurrent(peer)) this.schedule(peer, peer.lastProbeAt + this.init.intervalMs - performance.now());
  }

  /** The first PONG tells the peer's instance; a different one later means it restarted. */
  private onInstance(peer: Peer, instance: string): void {
    const known = peer.instance;
    peer.instance = instance;
    if (known === undefined) {
      for (const stream of peer.streams.keys()) peer.streams.set(stream, instance);
      return;
    }
    if (known === instance) return;
    const lost = [...peer.streams].filter(([, on]) => on === known).map(([stream]) => stream);
    for (const [stream, on] of peer.streams) if (on === undefined) peer.streams.set(stream, instance);
    if (lost.length > 0) this.gone(peer, lost, 'restarted: its streams from before are gone');
  }

  private gone(peer: Peer, streams: Iterable<RelayStream>, reason: string): void {
    this.destroyAll(peer, streams, this.init.goneError(peer.name, reason));
  }

  private destroyAll(peer: Peer, streams: Iterable<RelayStream>, error: HopError): void {
    const doomed = [...streams];
    this.init.log.warn({ peer: peer.name, streams: doomed.length, err_code: error.code, reason: error.message }, 'relay peer gone: resetting its streams');
    for (const stream of doomed) stream.destroy(error);
    // Destroying releases each stream (untrack); forget the peer even if one was not released.
    for (const stream of doomed) this.untrack(stream);
  }
}
