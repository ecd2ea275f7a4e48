import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  Connection,
  type ConnectionOptions,
  createMemoryLinkPair,
  type LossyLinkOptions,
  type MemoryLink,
  type TransportStream,
} from '../src/index.js';
import { createPrng } from '../src/prng.js';

/** Per-test deadline: a regression fails the test instead of hanging the run. */
export const TEST_TIMEOUT_MS = 30_000;

export interface Pair {
  client: Connection;
  server: Connection;
  clientLink: MemoryLink;
  serverLink: MemoryLink;
  /** Closes both connections (idempotent). */
  close(): void;
}

/** A client and a server connection over an in-memory link with the given impairments. */
export function connectPair(
  link: LossyLinkOptions = {},
  clientOptions: Partial<ConnectionOptions> = {},
  serverOptions: Partial<ConnectionOptions> = {},
): Pair {
  const [clientLink, serverLink] = createMemoryLinkPair(link);
  const client = new Connection(clientLink, { ...clientOptions, role: 'client' });
  const server = new Connection(serverLink, { ...serverOptions, role: 'server' });
  return {
    client,
    server,
    clientLink,
    serverLink,
    close() {
      client.close();
      server.close();
    },
  };
}

/** Deterministic pseudo-random bytes (fast, seeded). */
export function patternBytes(size: number, seed: number): Buffer {
  const random = createPrng(seed);
  const buf = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) buf.writeUInt32LE((random() * 4_294_967_296) >>> 0, i);
  for (; i < size; i++) buf[i] = (random() * 256) | 0;
  return buf;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` in `chunkSize` pieces honouring backpressure, then ends the stream. */
export async function writeAll(stream: TransportStream, data: Buffer, chunkSize = 64 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    if (!stream.write(data.subarray(offset, offset + chunkSize))) await once(stream, 'drain');
  }
  stream.end();
}

/** Reads a stream to its end; resolves with the sha256 and length of what arrived. */
export function readAll(stream: TransportStream): Promise<{ sha256: string; length: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let length = 0;
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    stream.once('end', () => resolve({ sha256: hash.digest('hex'), length }));
    stream.once('error', reject);
  });
}

/** The next peer-opened stream. */
export function nextStream(connection: Connection): Promise<TransportStream> {
  return new Promise((resolve) => connection.once('stream', resolve));
}
