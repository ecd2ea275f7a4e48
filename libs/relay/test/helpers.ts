import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsSubjects } from '@hopgate/keys';
import { startNats, type RunningServer } from '@hopgate/testkit';
import { RelayClient, RelayServer, type RelayClientOptions, type RelayServerOptions } from '../src/index.js';

export const KIB = 1024;
export const MIB = 1024 * KIB;

/** nats.js waits 2 s before dialing a server again; tests that force a reconnect need less. */
const TEST_RECONNECT_WAIT_MS = 50;

let prefixCounter = 0;

/** One nats-server per test file; each relay pair gets its own subject prefix. */
export class NatsFixture {
  private server: RunningServer | undefined;
  private readonly connections: NatsConnection[] = [];

  async start(): Promise<void> {
    this.server = await startNats();
  }

  /** `extra`: further nats.js options (e.g. the hidden `pendingLimit`). */
  async connect(extra: Record<string, unknown> = {}): Promise<NatsConnection> {
    if (this.server === undefined) throw new Error('nats fixture not started');
    const nc = await connect({
      servers: this.server.url,
      name: `relay-test-${this.connections.length}`,
      reconnectTimeWait: TEST_RECONNECT_WAIT_MS,
      ...extra,
    });
    this.connections.push(nc);
    return nc;
  }

  async stop(): Promise<void> {
    for (const nc of this.connections.splice(0)) await nc.close().catch(() => undefined);
    await this.server?.stop();
  }
}

export interface RelayPair {
  subjects: NatsSubjects;
  ncIngress: NatsConnection;
  ncHub: NatsConnection;
  client: RelayClient;
  server: RelayServer;
  close(): Promise<void>;
}

/** A RelayClient and a RelayServer on separate connections (as in two processes), started. */
export async function relayPair(
  nats: NatsFixture,
  options: {
    client?: Partial<Omit<RelayClientOptions, 'nc' | 'subjects'>>;
    server?: Partial<Omit<RelayServerOptions, 'nc' | 'subjects'>>;
  } = {},
): Promise<RelayPair> {
  prefixCounter += 1;
  const subjects = new NatsSubjects(`t${process.pid}_${prefixCounter}`);
  const ncIngress = await nats.connect();
  const ncHub = await nats.connect();
  const client = new RelayClient({ nc: ncIngress, subjects, ingressId: 'ing-1', ...options.client });
  const server = new RelayServer({ nc: ncHub, subjects, hubId: 'hub-1', ...options.server });
  await server.start();
  await client.start();
  return {
    subjects,
    ncIngress,
    ncHub,
    client,
    server,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

/** A byte source of `totalBytes` random bytes that hashes what it produces and counts it. */
export function randomSource(totalBytes: number, pieceBytes = 64 * KIB): { stream: Readable; produced(): number; digest(): string } {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    highWaterMark: pieceBytes,
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const piece = randomBytes(Math.min(pieceBytes, totalBytes - produced));
      produced += piece.length;
      hash.update(piece);
      this.push(piece);
    },
  });
  let digest: string | undefined;
  return {
    stream,
    produced: () => produced,
    digest: () => (digest ??= hash.digest('hex')),
  };
}

/**
 * Reads a stream to its end: sha256 and byte count. (Not `for await`: on a Duplex that destroys
 * the stream once the readable side ends, cutting the writable side short.)
 */
export async function drain(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Resolves with the error a stream emits (rejects if it closes without one). */
export function errorOf(stream: NodeJS.EventEmitter): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    stream.once('error', resolve);
    stream.once('close', () => setImmediate(() => reject(new Error('stream closed without an error'))));
  });
}

export function text(value: string): Uint8Array {
  return Buffer.from(value, 'utf8');
}
