/**
 * Runs HTTP/1.1 fuzz cases against the ingress over raw sockets (TLS with the stack's dev
 * CA, or the plain port): writes a case's bytes, collects what comes back until the oracle
 * says the case is over, and keeps the connection for the next case only when both sides
 * are at a message boundary (a case that closes or confuses a connection never poisons
 * the next one).
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Stack } from '@hopgate/testkit';
import type { Http1Case } from './fuzz-http1-cases.js';
import { EDGE_MAX_HEADER_BYTES } from './fuzz-http1-cases.js';
import { referenceParse } from './http1-reference-parser.js';
import { caseSettled, judgeCase, type CaseState, type CaseVerdict } from './fuzz-http1-oracle.js';

/** Longest wait for a case's answers, in ms (an upload cut short waits for the body idle timeout first). */
export const CASE_DEADLINE_MS = 20_000;
/** Bytes of a case and of its answer quoted in a failure message. */
const QUOTE_BYTES = 400;

/** One raw client connection to the ingress. */
class FuzzSocket {
  private chunks: Buffer[] = [];
  private listener: (() => void) | undefined;
  closed = false;

  private constructor(
    readonly socket: net.Socket,
    readonly tls: boolean,
  ) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.listener?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.listener?.();
    });
    socket.on('error', () => undefined);
  }

  static open(stack: Stack, useTls: boolean, servername: string, ca: Buffer): Promise<FuzzSocket> {
    return new Promise((resolve, reject) => {
      const socket = useTls
        ? tls.connect({ host: '127.0.0.1', port: stack.httpsPort, servername, ca, ALPNProtocols: ['http/1.1'] })
        : net.connect(stack.httpPort, '127.0.0.1');
      socket.once(useTls ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve(new FuzzSocket(socket, useTls));
      });
      socket.once('error', reject);
    });
  }

  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Forgets what was received (the connection carries a new case). */
  reset(): void {
    this.chunks = [];
  }

  /** Resolves once `done()` holds (checked on every event) or after `deadlineMs` (then false). */
  until(done: () => boolean, deadlineMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.listener = undefined;
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), deadlineMs);
      this.listener = () => {
        if (done()) finish(true);
      };
      this.listener();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface CaseResult {
  verdict: CaseVerdict;
  /** The failure text (seed, case, bytes, answer) when the verdict has problems. */
  report: string | undefined;
}

function quote(bytes: Buffer): string {
  const text = JSON.stringify(bytes.subarray(0, QUOTE_BYTES).toString('latin1'));
  return bytes.length > QUOTE_BYTES ? `${text}... (${bytes.length} bytes)` : text;
}

/**
 * A worker's connections: at most one idle connection per transport, reused while the
 * oracle says it is clean.
 */
export class Http1FuzzClient {
  private readonly idle = new Map<boolean, { socket: FuzzSocket; lastCase: number }>();
  private readonly ca: Buffer;

  constructor(
    private readonly stack: Stack,
    private readonly seed: number,
  ) {
    this.ca = fs.readFileSync(stack.ca.certFile);
  }

  async run(testCase: Http1Case): Promise<CaseResult> {
    const ref = referenceParse(testCase.bytes, EDGE_MAX_HEADER_BYTES, testCase.endAfter);
    const reused = this.idle.get(testCase.tls);
    this.idle.delete(testCase.tls);
    let socket: FuzzSocket;
    if (reused && !reused.socket.closed) {
      socket = reused.socket;
      socket.reset();
    } else {
      reused?.socket.destroy();
      socket = await FuzzSocket.open(this.stack, testCase.tls, testCase.servername, this.ca);
    }
    socket.socket.write(testCase.bytes);
    if (testCase.endAfter) socket.socket.end();
    const state: CaseState = { ref, endAfter: testCase.endAfter, tls: testCase.tls, received: Buffer.alloc(0), closed: false };
    const settled = await socket.until(() => {
      state.received = socket.received;
      state.closed = socket.closed;
      return caseSettled(state);
    }, CASE_DEADLINE_MS);
    state.received = socket.received;
    state.closed = socket.closed;
    const verdict = judgeCase(state, settled ? undefined : CASE_DEADLINE_MS);
    if (verdict.reusable) this.idle.set(testCase.tls, { socket, lastCase: testCase.index });
    else socket.destroy();
    if (verdict.problems.length === 0) return { verdict, report: undefined };
    const via = reused && socket === reused.socket ? ` (on the connection of case ${reused.lastCase})` : '';
    const report = [
      `fuzz seed: ${this.seed}, HTTP/1.1 case ${testCase.index} over ${testCase.tls ? 'TLS' : 'plain TCP'}${via}: ${testCase.label}`,
      ...verdict.problems.map((p) => `  - ${p}`),
      `  sent${testCase.endAfter ? ' (then FIN)' : ''}: ${quote(testCase.bytes)}`,
      `  node's parser: ${ref.requests.length} request(s)${ref.error ? `, error ${ref.error.code}${ref.error.atEnd ? ' at the end' : ''}` : ''}${ref.partialHead ? ', partial head at the end' : ''}`,
      `  received${state.closed ? ' (then closed)' : ''}: ${quote(state.received)}`,
    ].join('\n');
    return { verdict, report };
  }

  close(): void {
    for (const { socket } of this.idle.values()) socket.destroy();
    this.idle.clear();
  }
}
