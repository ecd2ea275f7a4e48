import type { SentFrame } from './sent-packet.js';

/** What the builder points at between packets: nothing (an idle connection keeps no packet buffer). */
const NO_PACKET = Buffer.alloc(0);

/**
 * The packet being filled: its buffer, the frames recorded for loss recovery, and the
 * connection-level send credit left for new stream data (RFC 9000 §4.1).
 */
export class PacketBuilder {
  buf: Buffer = NO_PACKET;
  pos = 0;
  end = 0;
  frames: SentFrame[] = [];
  ackEliciting = false;
  /** Carries IMMEDIATE_ACK. */
  immediateAck = false;
  /** Connection credit (MAX_DATA minus data sent) left for new stream bytes. */
  connectionCredit = 0;
  /** New stream bytes put in this packet. */
  newStreamBytes = 0;
  /** Stream bytes sent again in this packet. */
  retransmittedBytes = 0;

  start(buf: Buffer, pos: number, end: number, connectionCredit: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.frames = [];
    this.ackEliciting = false;
    this.immediateAck = false;
    this.connectionCredit = connectionCredit;
    this.newStreamBytes = 0;
    this.retransmittedBytes = 0;
  }

  /**
   * The packet is sent (or was empty): let go of its buffer. Otherwise each connection keeps
   * its last packet, up to the largest datagram size (or an 8 KiB slab of Node's buffer pool
   * that a small one is a slice of) for as long as it sits idle.
   */
  release(): void {
    this.buf = NO_PACKET;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Records an ack-eliciting frame for loss recovery. */
  record(frame: SentFrame): void {
    this.frames.push(frame);
    this.ackEliciting = true;
  }
}
