/**
 * A hub that agents can reach but should not trust: built from the project's own libraries
 * (libs/dtls DtlsHubServer, libs/transport Connection, libs/wire codec), it accepts any agent,
 * answers its hello with hello_ok (or whatever a test scripts), and then lets the test send
 * anything on the control stream and on request streams: garbage bytes, unknown message
 * types, malformed heads, resets. Used to show that nothing a hub sends makes an agent exit.
 */
import fs from 'node:fs';
import { DtlsHubServer, type DtlsServerLink } from '@hopgate/dtls';
import { Connection, type TransportStream } from '@hopgate/transport';
import { MessageStreamReader, encodeMessage, encodePreface, type Hello, type WireMessage } from '@hopgate/wire';
import { waitFor } from '@hopgate/testkit';

/** The hostile hub's transport idle limit, in ms (the stack's agents use 3 s too). */
export const HOSTILE_HUB_IDLE_TIMEOUT_MS = 3_000;
/** How long a scripted request waits for the agent's whole answer, in ms. */
export const HOSTILE_REQUEST_TIMEOUT_MS = 10_000;

/** What the hub answers to a hello: a message, raw bytes, or nothing at all. */
export type HelloAnswer = { message: WireMessage } | { raw: Buffer };

/** The agent's answer on one request stream, as the hub saw it. */
export interface StreamOutcome {
  /** The first message the agent sent, if one could be read. */
  message: WireMessage | undefined;
  /** Bytes after that message until the stream ended. */
  body: Buffer;
  /** How the stream finished: 'end' (FIN), 'error' (reset or connection closed). */
  finish: 'end' | 'error';
  /** The error code when `finish` is 'error'. */
  code: string | undefined;
}

/** One agent session on the hostile hub, after its hello was answered. */
export class HostilePeer {
  constructor(
    readonly conn: Connection,
    readonly control: TransportStream,
    readonly hello: Hello,
  ) {}

  get closed(): boolean {
    return this.conn.closed;
  }

  /** Writes raw bytes on the control stream. */
  sendControl(bytes: Buffer): void {
    this.control.write(bytes);
  }

  /**
   * Opens a request stream, writes `bytes` (a head and maybe a body), ends the stream (unless
   * `end` is false) and collects the agent's answer.
   */
  async exchange(bytes: Buffer, options: { end?: boolean } = {}): Promise<StreamOutcome> {
    const stream = this.conn.openStream();
    stream.on('error', () => undefined);
    stream.write(bytes);
    if (options.end ?? true) stream.end();
    return collect(stream);
  }

  /** Opens a request stream and resets it after writing `bytes` (empty: at once). */
  resetAfter(bytes: Buffer): void {
    const stream = this.conn.openStream();
    stream.on('error', () => undefined);
    if (bytes.length > 0) stream.write(bytes);
    stream.reset(1);
  }
}

/** Reads the agent's answer on `stream`: the first message, then the bytes until the stream finishes (bounded in time). */
function collect(stream: TransportStream): Promise<StreamOutcome> {
  return new Promise<StreamOutcome>((resolve) => {
    let message: WireMessage | undefined;
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (finish: StreamOutcome['finish'], code: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ message, body: Buffer.concat(chunks), finish, code });
    };
    const timer = setTimeout(() => {
      settle('error', 'TEST_TIMEOUT');
      stream.destroy();
    }, HOSTILE_REQUEST_TIMEOUT_MS);
    new MessageStreamReader(stream).readMessage().then(
      (first) => {
        message = first;
        if (stream.readableEnded) return settle('end', undefined);
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.once('end', () => settle('end', undefined));
        stream.once('error', (err: Error & { code?: string }) => settle('error', err.code));
        stream.once('close', () => settle(stream.readableEnded ? 'end' : 'error', undefined));
      },
      (err: Error & { code?: string }) => settle(err.code === 'ERR_CLOSED' ? 'end' : 'error', err.code),
    );
  });
}

/**
 * The hub itself. `answerHello` decides what each hello gets (default hello_ok with a growing
 * epoch). Every session whose hello arrived is kept in `peers`, in order.
 */
export class HostileHub {
  readonly peers: HostilePeer[] = [];
  /** Hellos received (including those answered with something else than hello_ok). */
  hellos = 0;
  answerHello: (hello: Hello, n: number) => HelloAnswer = (_hello, n) => ({ message: { type: 'hello_ok', hub_id: 'hostile', epoch: n } });
  private readonly connections = new Set<Connection>();

  private constructor(private readonly server: DtlsHubServer) {
    server.on('session', (link: DtlsServerLink) => this.onLink(link));
  }

  static async start(certFile: string, keyFile: string): Promise<HostileHub> {
    const server = await DtlsHubServer.listen({
      host: '127.0.0.1',
      port: 0,
      certPem: fs.readFileSync(certFile, 'utf8'),
      keyPem: fs.readFileSync(keyFile, 'utf8'),
    });
    return new HostileHub(server);
  }

  get port(): number {
    return this.server.address().port;
  }

  /** Waits for the session number `index` (0-based) to have said hello. */
  async peer(index: number, timeoutMs = 15_000): Promise<HostilePeer> {
    return waitFor(`hostile hub: session ${index + 1}`, () => this.peers[index], timeoutMs);
  }

  async close(): Promise<void> {
    for (const conn of this.connections) conn.close(0, 'test over');
    await this.server.close();
  }

  private onLink(link: DtlsServerLink): void {
    const conn = new Connection(link, { role: 'server', idleTimeoutMs: HOSTILE_HUB_IDLE_TIMEOUT_MS });
    this.connections.add(conn);
    conn.once('close', () => this.connections.delete(conn));
    conn.once('stream', (control: TransportStream) => {
      control.on('error', () => undefined);
      this.onControl(conn, control).catch(() => conn.close(1, 'hello failed'));
    });
  }

  private async onControl(conn: Connection, control: TransportStream): Promise<void> {
    const reader = new MessageStreamReader(control);
    await reader.readPreface();
    const hello = await reader.readMessage();
    if (hello.type !== 'hello') throw new Error(`expected hello, got ${hello.type}`);
    this.hellos += 1;
    const answer = this.answerHello(hello, this.hellos);
    control.write(encodePreface());
    control.write('raw' in answer ? answer.raw : encodeMessage(answer.message));
    // Whatever the agent sends later on its control stream is read and dropped.
    control.resume();
    this.peers.push(new HostilePeer(conn, control, hello));
  }
}
