import dgram from 'node:dgram';
import { Duplex } from 'node:stream';
import type { RecordParts } from './aes-gcm-record-cipher.js';

/** The errno Node reports on a connected UDP socket after an ICMP port unreachable (Linux). */
const ECONNREFUSED = 'ECONNREFUSED';

/**
 * The agent's UDP socket, *connected* to the hub (connect(2)): the kernel then reports an ICMP
 * port unreachable from the hub's address as ECONNREFUSED on the socket (RFC 1122 §4.1.3.3),
 * which an unconnected socket never learns. A hub whose process died on a reachable host
 * answers the next datagram with one, so the agent knows at once instead of waiting for the
 * transport's dead-peer bound. A connected socket also receives only from the hub's address.
 *
 * The duplex @nodertc/dtls reads datagrams from and writes records to (one chunk = one
 * datagram, object mode). Events besides the stream's: 'unreachable' (the ICMP error, once per
 * report; the socket stays usable).
 */
export class ConnectedUdpSocket extends Duplex {
  private udpClosed = false;
  /** Takes datagrams before the stream does (returns true when it consumed one): the established session's fast path. */
  private interceptor: ((datagram: Buffer) => boolean) | undefined;
  private readonly onSent = (err: Error | null): void => {
    if ((err as NodeJS.ErrnoException | null)?.code === ECONNREFUSED) this.emit('unreachable', err);
  };

  private constructor(private readonly socket: dgram.Socket) {
    super({ objectMode: true, allowHalfOpen: true });
    socket.on('message', (datagram: Buffer) => {
      if (this.udpClosed) return;
      if (this.interceptor?.(datagram) === true) return;
      this.push(datagram);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === ECONNREFUSED) this.emit('unreachable', err);
      else this.destroy(err);
    });
  }

  /** Binds an ephemeral port and connects it to `address`:`port`. */
  static async open(options: { type: 'udp4' | 'udp6'; address: string; port: number; bufferBytes: number }): Promise<ConnectedUdpSocket> {
    const socket = dgram.createSocket({ type: options.type, recvBufferSize: options.bufferBytes, sendBufferSize: options.bufferBytes });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(options.port, options.address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    return new ConnectedUdpSocket(socket);
  }

  /**
   * Datagrams go to `interceptor` first; those it declines (returns false) are pushed to the
   * stream as before. One object-mode stream hop per datagram is what the fast path saves.
   */
  intercept(interceptor: (datagram: Buffer) => boolean): void {
    this.interceptor = interceptor;
  }

  /** Sends one datagram straight to the socket, beside the stream's queue (the fast path's records). */
  /** One datagram: a buffer, or a record's parts (sent together, one sendmsg). */
  sendDatagram(datagram: Buffer | RecordParts): void {
    if (this.udpClosed) return;
    // The callback keeps an ICMP port unreachable reported on send from being lost (see _write).
    this.socket.send(datagram, this.onSent);
  }

  override _read(): void {
    // Datagrams are pushed as they arrive; UDP has no way to ask the sender to wait.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.udpClosed) {
      callback();
      return;
    }
    // A send error (ECONNREFUSED reported on send, a full buffer) loses this datagram only:
    // UDP is best effort and the layers above retransmit; 'unreachable' tells the link.
    this.socket.send(chunk, (err) => {
      this.onSent(err);
      callback();
    });
  }

  /** Closes the UDP socket and ends both sides of the stream. Idempotent. */
  close(): void {
    if (this.udpClosed) return;
    this.udpClosed = true;
    this.socket.close();
    this.push(null);
    this.end();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.udpClosed) {
      this.udpClosed = true;
      this.socket.close();
    }
    callback(err);
  }
}
