/**
 * A malicious agent for the e2e tests, built from the project's own libraries the way the
 * real one is (services/agent/src/agent.ts): DTLS to the hub (`connectDtls`), the
 * transport `Connection`, the wire preface and `hello` with a real client id and token.
 * It then answers every request stream with whatever the test programs for that request's
 * path: raw bytes for the response head and body, including hand-made frames that
 * `encodeMessage` would never produce (unknown tags, truncated frames, any status).
 */
import fs from 'node:fs';
import { connectDtls } from '@hopgate/dtls';
import { Connection, type TransportStream } from '@hopgate/transport';
import { MessageStreamReader, MessageTag, decodeMessage, encodeMessage, encodePreface, LENGTH_PREFIX_BYTES, type HeaderPairs, type RequestHead } from '@hopgate/wire';
import { HUB_SERVER_NAME, type Stack } from '@hopgate/testkit';

/** The hostile agent's transport idle timeout, in ms (the stack's hubs use 3 s; keep-alives keep it up). */
const HOSTILE_IDLE_TIMEOUT_MS = 3_000;
/** Longest wait for the hub's answer to `hello`, in ms. */
const HELLO_TIMEOUT_MS = 10_000;
/** Streams the hub may open at once (the hub caps requests per agent below this). */
const HOSTILE_MAX_INCOMING_STREAMS = 1_000;

/**
 * What the agent does with one request stream: write raw bytes, end (FIN) or reset it.
 * The request head was already read off the stream; the request body (if any) is drained.
 */
export type HostileScript = (stream: TransportStream, head: RequestHead) => void;

/** One wire frame by hand: `[u32 length][u8 tag][payload]` (libs/wire/src/codec.ts), with no checks at all. */
export function wireFrame(tag: number, payload: Buffer | string): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const out = Buffer.alloc(LENGTH_PREFIX_BYTES + 1 + body.length);
  out.writeUInt32BE(1 + body.length, 0);
  out[LENGTH_PREFIX_BYTES] = tag;
  body.copy(out, LENGTH_PREFIX_BYTES + 1);
  return out;
}

/** A binary string field by hand: `[u16 byte length][UTF-8]`. */
export function wireString(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * A `response_head` frame with any status (as u16: a negative or huge one wraps) and any header
 * strings: `[u16 status][u16 count]([string name][string value])*` (the codec accepts 100-999).
 */
export function responseHeadFrame(status: number, headers: HeaderPairs): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt16BE(status & 0xffff, 0);
  fixed.writeUInt16BE(headers.length, 2);
  return wireFrame(MessageTag.response_head, Buffer.concat([fixed, ...headers.flatMap(([name, value]) => [wireString(name), wireString(value)])]));
}

/** A script that writes `parts` in order, then ends the stream (FIN). */
export function sendThenEnd(...parts: Buffer[]): HostileScript {
  return (stream) => {
    for (const part of parts) stream.write(part);
    stream.end();
  };
}

export interface HostileAgentOptions {
  clientId: string;
  token: string;
  /** Which hub (default 0). */
  hub?: number;
  /** The script for a request path (the path without query); unknown paths get `fallback`. */
  scripts: ReadonlyMap<string, HostileScript>;
  fallback: HostileScript;
}

/** A connected malicious agent. */
export class HostileAgent {
  /** Request heads received, in order. */
  readonly requests: RequestHead[] = [];
  /** The same heads as the exact bytes that came down the stream. */
  readonly rawHeads: Buffer[] = [];

  private constructor(
    private readonly connection: Connection,
    private readonly options: HostileAgentOptions,
  ) {
    connection.on('stream', (stream: TransportStream) => this.serve(stream));
  }

  /** Dials the stack's hub, says hello with `clientId`/`token`, and waits for `hello_ok`. */
  static async connect(stack: Stack, options: HostileAgentOptions): Promise<HostileAgent> {
    const hub = stack.hubs[options.hub ?? 0];
    if (!hub) throw new Error(`no hub ${options.hub ?? 0}`);
    const link = await connectDtls({ host: '127.0.0.1', port: hub.port, serverName: HUB_SERVER_NAME, ca: fs.readFileSync(stack.ca.certFile, 'utf8') });
    const connection = new Connection(link, { role: 'client', idleTimeoutMs: HOSTILE_IDLE_TIMEOUT_MS, maxIncomingStreams: HOSTILE_MAX_INCOMING_STREAMS });
    const agent = new HostileAgent(connection, options);
    const control = connection.openStream();
    control.on('error', () => undefined);
    control.write(encodePreface());
    control.write(encodeMessage({ type: 'hello', client_id: options.clientId, token: options.token, agent_version: 'hostile-test', services: ['web'] }));
    const reader = new MessageStreamReader(control);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hub did not answer hello within ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
    });
    try {
      await Promise.race([reader.readPreface(), timeout]);
      const reply = await Promise.race([reader.readMessage(), timeout]);
      if (reply.type !== 'hello_ok') throw new Error(`hub answered ${reply.type}`);
    } catch (err) {
      connection.close(1, 'hello failed');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // Later control messages (go_away) are read and ignored.
    control.resume();
    return agent;
  }

  /** Whether the session with the hub is still up. */
  get connected(): boolean {
    return !this.connection.closed;
  }

  private serve(stream: TransportStream): void {
    stream.on('error', () => undefined);
    const reader = new MessageStreamReader(stream);
    reader.readRawMessage().then(
      (raw) => {
        const msg = raw.kind === 'request_head' ? decodeMessage(raw.bytes)?.message : undefined;
        if (msg?.type !== 'request_head') {
          stream.reset(1);
          return;
        }
        this.rawHeads.push(Buffer.from(raw.bytes));
        this.requests.push(msg);
        // The request body (if any) is not wanted: drain it so the stream can finish.
        stream.resume();
        const path = msg.path.split('?')[0] ?? msg.path;
        (this.options.scripts.get(path) ?? this.options.fallback)(stream, msg);
      },
      () => stream.destroy(),
    );
  }

  close(): void {
    this.connection.close(0, 'hostile agent done');
  }
}
