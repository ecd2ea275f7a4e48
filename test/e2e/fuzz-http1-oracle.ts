/**
 * The HTTP/1.1 oracle of the fuzz suite: given what node's parser makes of a case's bytes
 * (http1-reference-parser.ts) and what came back on the connection, decides when the case
 * is over and whether the ingress behaved. Rules:
 * - every byte received is a well-formed response (http1-response-reader.ts);
 * - each request node parsed gets exactly one final answer, in order, unless an earlier
 *   answer announced `Connection: close`; nothing answers a request that was not sent;
 * - an answer is either proxied (the service's `x-fuzz-service`) or from the edge
 *   (4xx/5xx); a proxied answer comes from the service the route table gives the request's
 *   (authority, path), and echoes that request's method, target and authority (so an answer
 *   can never belong to another request: no desync, no tenant crossing);
 * - a request node's parser refuses gets the ingress's 400/413/431 (RFC 9112 §6.3,
 *   RFC 9110 §15.5.14, RFC 6585 §5), then the connection closes;
 * - interim answers: 100 only after `Expect: 100-continue`, 101 only on an upgrade.
 */
import { headerCount, headerList, headerValue, type ReferenceParse, type ReferenceRequest } from './http1-reference-parser.js';
import { closesConnection, readResponses, responseHeader, type ReadResponse, type ReadResult } from './http1-response-reader.js';
import { ECHO_HEADER, REFUSED_HEADER, SERVICE_HEADER, decodeEcho, serviceBody } from './fuzz-origin.js';
import { expectedDestination } from './fuzz-routes.js';

export const REQUEST_ID_HEADER = 'x-hopgate-request-id';
/** node's http server `maxHeadersCount` default: header pairs past it are dropped from the request. */
export const NODE_MAX_HEADERS_COUNT = 2_000;

/** node's test for a 100-continue expectation (its `continueExpression`), applied to HTTP/1.1 only. */
const CONTINUE_EXPECTATION = /(?:^|\W)100-continue(?:$|\W)/i;

/** RFC 9112 §3.2.2: an absolute-form target names the authority itself. */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/is;

/** Where a parsed request must go: (authority, path), or why no route may serve it. */
export function requestDestination(request: ReferenceRequest): { authority: string; path: string } | { refused: string } {
  // RFC 9112 §3.2: a request with more than one Host is invalid, whatever its target.
  if (headerCount(request, 'host') > 1) return { refused: 'more than one Host' };
  const absolute = ABSOLUTE_FORM.exec(request.url);
  if (absolute) {
    const authority = absolute[1] ?? '';
    const rest = absolute[2] ?? '';
    // RFC 9110 §4.2.4: userinfo has no place in an http(s) request target.
    if (!authority || authority.includes('@')) return { refused: 'absolute-form without a plain authority' };
    return { authority, path: rest.startsWith('/') ? rest : `/${rest}` };
  }
  if (!request.url.startsWith('/')) return { refused: `target ${JSON.stringify(request.url.slice(0, 40))} is not origin-form` };
  const host = headerValue(request, 'host');
  if (!host) return { refused: 'no Host' };
  return { authority: host, path: request.url };
}

/** The status node's server and the ingress give a parse error (client-error.ts mirrors RFC 9110/6585). */
export function parseErrorStatus(code: string): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  return 400;
}

/** node's http server answers these itself, before any handler runs (so without a request id). */
function nodeOwnAnswer(request: ReferenceRequest, status: number): boolean {
  const http11 = request.versionMajor === 1 && request.versionMinor === 1;
  // node's server sees the first NODE_MAX_HEADERS_COUNT pairs only (`maxHeadersCount`).
  const seen = { ...request, headers: request.headers.slice(0, NODE_MAX_HEADERS_COUNT) };
  if (status === 400 && http11 && headerCount(seen, 'host') === 0) return true;
  const expect = headerList(request, 'expect');
  return status === 417 && http11 && expect !== undefined && !CONTINUE_EXPECTATION.test(expect);
}

function expectsContinue(request: ReferenceRequest): boolean {
  const expect = headerList(request, 'expect');
  return request.versionMajor === 1 && request.versionMinor === 1 && expect !== undefined && CONTINUE_EXPECTATION.test(expect);
}

function isWebSocketUpgrade(request: ReferenceRequest): boolean {
  return request.upgrade && request.method !== 'CONNECT' && headerValue(request, 'upgrade')?.toLowerCase() === 'websocket';
}

/** What one final answer was, for the run's statistics. */
export type AnswerKind = `proxied ${string}` | `edge ${number}`;

/** Checks answer `response` to `request` (number `n`, from 1); returns problems. */
export function judgeAnswer(request: ReferenceRequest, response: ReadResponse, n: number, kinds: AnswerKind[]): string[] {
  const problems: string[] = [];
  const service = responseHeader(response, SERVICE_HEADER);
  const requestId = responseHeader(response, REQUEST_ID_HEADER);
  const what = `answer ${n} (${response.status}) to ${request.method} ${JSON.stringify(request.url.slice(0, 60))}`;
  if (response.status === 101 && !isWebSocketUpgrade(request)) problems.push(`${what}: 101 to a request that is no WebSocket upgrade`);
  if (service === undefined) {
    kinds.push(`edge ${response.status}`);
    if (response.status < 400) problems.push(`${what}: an edge answer that is not 4xx/5xx`);
    if (requestId === undefined && !nodeOwnAnswer(request, response.status)) problems.push(`${what}: edge answer without ${REQUEST_ID_HEADER}`);
    return problems;
  }
  kinds.push(`proxied ${service}`);
  if (requestId === undefined) problems.push(`${what}: proxied answer without ${REQUEST_ID_HEADER}`);
  const destination = requestDestination(request);
  if ('refused' in destination) {
    problems.push(`INVALID REQUEST PROXIED: ${what} reached service ${service} although the request names no single destination (${destination.refused})`);
    return problems;
  }
  const expected = expectedDestination(destination.authority, destination.path);
  if ('refused' in expected) {
    problems.push(`INVALID REQUEST PROXIED: ${what} reached service ${service} although the edge must refuse it (${expected.refused})`);
    return problems;
  }
  const route = expected.route;
  if (route?.service !== service) {
    problems.push(`TENANT: ${what} for ${JSON.stringify(destination.authority)}${JSON.stringify(destination.path.slice(0, 60))} came from service ${service}, the route table says ${route?.service ?? 'no route'}`);
  }
  if (responseHeader(response, REFUSED_HEADER) !== undefined) return problems; // the service's own parser refused what arrived
  const echo = decodeEcho(responseHeader(response, ECHO_HEADER) ?? '');
  if (!echo) {
    problems.push(`${what}: proxied answer without a readable echo`);
    return problems;
  }
  if (echo.method !== request.method || echo.url !== expected.url || echo.host !== expected.host) {
    problems.push(`DESYNC: ${what} echoes ${echo.method} ${JSON.stringify(echo.url.slice(0, 60))} host ${JSON.stringify(echo.host)}, expected ${request.method} ${JSON.stringify(expected.url.slice(0, 60))} host ${JSON.stringify(expected.host)}`);
  }
  const expectedStatus = isWebSocketUpgrade(request) ? 101 : 200;
  if (response.status !== expectedStatus) problems.push(`${what}: proxied status ${response.status}, the service answers ${expectedStatus}`);
  const body = request.method === 'HEAD' || response.status === 101 ? '' : serviceBody(service);
  if (response.body.toString('latin1') !== body) problems.push(`${what}: body ${JSON.stringify(response.body.toString('latin1').slice(0, 60))}, the service sent ${JSON.stringify(body)}`);
  return problems;
}

/** Checks the answer to a parse error: the mapped status, a request id, and `Connection: close`. */
function judgeErrorAnswer(code: string, response: ReadResponse): string[] {
  const problems: string[] = [];
  const expected = parseErrorStatus(code);
  if (response.status !== expected) problems.push(`parse error ${code}: answered ${response.status}, expected ${expected}`);
  if (responseHeader(response, REQUEST_ID_HEADER) === undefined) problems.push(`parse error ${code}: answer without ${REQUEST_ID_HEADER}`);
  if (!closesConnection(response)) problems.push(`parse error ${code}: answer without Connection: close`);
  return problems;
}

export interface CaseState {
  ref: ReferenceParse;
  endAfter: boolean;
  tls: boolean;
  received: Buffer;
  closed: boolean;
}

/** The received bytes as answers; `errorAt`: the position of the parse error's answer, if any. */
interface CaseReading {
  result: ReadResult;
  errorAt: number | undefined;
}

function read(state: CaseState): CaseReading {
  const answered = state.ref.requests.map((request) => ({ method: request.method, upgrade: request.upgrade }));
  if (!state.ref.error) return { result: readResponses(state.received, answered, state.closed), errorAt: undefined };
  // node answers a parse error at once, even while answers to the requests before it are
  // still pending (they are then never sent): its answer may stand at any position up to
  // the last, read with its own framing (a body, whatever the pending request's method).
  let first: CaseReading | undefined;
  for (let k = answered.length; k >= 0; k--) {
    const reading = { result: readResponses(state.received, [...answered.slice(0, k), { method: 'GET', upgrade: false }], state.closed), errorAt: k };
    first ??= reading;
    if (!reading.result.problem && (k === answered.length || reading.result.finals === k + 1)) return reading;
  }
  return first!;
}

/** Whether the case is over: the server closed, or every request it will answer now is answered. */
export function caseSettled(state: CaseState): boolean {
  if (state.closed) return true;
  const { result } = read(state);
  if (result.problem) return true;
  if (result.incomplete) return false;
  // The server must close after these: a parse error, our FIN, an upgrade (tunnel or refusal).
  if (state.ref.error || state.endAfter || state.ref.requests.at(-1)?.upgrade) return false;
  const finals = result.responses.filter((request) => !request.interim);
  if (finals.at(-1) && closesConnection(finals.at(-1)!)) return false;
  return result.finals >= state.ref.requests.length;
}

export interface CaseVerdict {
  problems: string[];
  kinds: AnswerKind[];
  /** The connection is at a message boundary on both sides and may carry the next case. */
  reusable: boolean;
}

/** Judges a settled (or timed-out) case. */
export function judgeCase(state: CaseState, timedOutMs: number | undefined): CaseVerdict {
  const { ref } = state;
  const problems: string[] = [];
  const kinds: AnswerKind[] = [];
  const { result, errorAt } = read(state);
  if (timedOutMs !== undefined) problems.push(`no complete answer within ${timedOutMs} ms (connection ${state.closed ? 'closed' : 'open'})`);
  if (result.problem) problems.push(`malformed answer: ${result.problem}`);
  const n = ref.requests.length;
  let index = 0;
  for (const response of result.responses) {
    const request = ref.requests[index];
    if (response.interim) {
      if (response.status !== 100 || !request || !expectsContinue(request)) problems.push(`interim ${response.status} before answer ${index + 1} without Expect: 100-continue`);
      continue;
    }
    if (ref.error && index === errorAt) problems.push(...judgeErrorAnswer(ref.error.code, response));
    else if (request) problems.push(...judgeAnswer(request, response, index + 1, kinds));
    index += 1;
  }
  const finals = result.finals;
  const lastFinal = result.responses.filter((x) => !x.interim).at(-1);
  if (finals > n + (ref.error ? 1 : 0)) problems.push(`${finals} answers to ${n} request(s)`);
  if (ref.error) {
    if (!state.closed && timedOutMs === undefined) problems.push(`parse error ${ref.error.code}: the connection stayed open`);
    // With nothing in flight node must answer; our FIN over TLS may end the socket before the answer.
    const answerRequired = n === 0 && !(state.endAfter && state.tls);
    if (finals === 0 && answerRequired) problems.push(`parse error ${ref.error.code}: connection closed without an answer`);
  } else if (state.closed && !state.endAfter && finals < n) {
    const announced = lastFinal !== undefined && closesConnection(lastFinal);
    if (!announced) problems.push(`connection closed after ${finals} answer(s) to ${n} request(s) without Connection: close (unanswered: ${ref.requests[finals]?.method} ${JSON.stringify(ref.requests[finals]?.url.slice(0, 60))})`);
  }
  const last = ref.requests.at(-1);
  const reusable =
    problems.length === 0 &&
    timedOutMs === undefined &&
    !state.closed &&
    !state.endAfter &&
    ref.error === undefined &&
    !ref.partialHead &&
    last !== undefined &&
    last.complete &&
    last.keepAlive &&
    !last.upgrade &&
    finals === n &&
    lastFinal !== undefined &&
    !closesConnection(lastFinal) &&
    !result.incomplete;
  return { problems, kinds, reusable };
}
