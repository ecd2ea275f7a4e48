/**
 * The fuzz suite's reference for "what did the ingress's HTTP/1.1 parser make of these
 * bytes": node's own llhttp binding, set up as node's http server sets it up (request
 * mode, the same header size limit, no lenient flags). Whatever it accepts the ingress
 * accepts, byte for byte, so the oracle knows how many requests a case holds, where each
 * one ends, and which parse error (if any) node's server meets. `_http_common` is node's
 * internal module; it is the only public handle on the exact parser the server runs.
 */
import { createRequire } from 'node:module';

/** One request head as llhttp parsed it. */
export interface ReferenceRequest {
  method: string;
  url: string;
  versionMajor: number;
  versionMinor: number;
  /** Name/value pairs in order, as node hands them to the server (values trimmed of OWS). */
  headers: Array<[string, string]>;
  /** llhttp's upgrade flag: `Connection: upgrade` + `Upgrade`, or CONNECT. Parsing stops after its head. */
  upgrade: boolean;
  /** Whether node's server may keep the connection open after answering it. */
  keepAlive: boolean;
  /** Whether the whole message (head and body) was in the bytes. */
  complete: boolean;
}

export interface ReferenceParse {
  requests: ReferenceRequest[];
  /** The parse error node's server meets (in the bytes, or at the end with `finishAtEnd`). */
  error: { code: string; atEnd: boolean } | undefined;
  /** The bytes end inside a request head (node waits for the rest). */
  partialHead: boolean;
}

interface ParserBinding {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | (Error & { code?: string });
  finish(): undefined | (Error & { code?: string });
  close(): void;
  [callback: number]: (...args: never[]) => unknown;
}

/**
 * llhttp's method numbers (enum llhttp_method in llhttp's api.h, node's `allMethods`): the
 * parser reports a method by number. `_http_common.methods` is the HTTP-only subset and
 * is not aligned past SOURCE, so the full table is spelled out here.
 */
const LLHTTP_METHODS = [
  'DELETE', 'GET', 'HEAD', 'POST', 'PUT', 'CONNECT', 'OPTIONS', 'TRACE', 'COPY', 'LOCK', 'MKCOL', 'MOVE',
  'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND', 'UNBIND', 'ACL', 'REPORT', 'MKACTIVITY',
  'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PATCH', 'PURGE', 'MKCALENDAR',
  'LINK', 'UNLINK', 'SOURCE', 'PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN',
  'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH', 'QUERY',
];

interface HttpCommon {
  HTTPParser: {
    new (): ParserBinding;
    REQUEST: number;
    kOnMessageBegin: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kLenientNone: number;
  };
}

const common = createRequire(import.meta.url)('_http_common') as HttpCommon;

function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/**
 * Parses `bytes` as node's http server does with `maxHeaderSize`. `finishAtEnd`: the
 * client closes its side after the bytes (node then calls finish(): a message cut short
 * is an error there).
 */
export function referenceParse(bytes: Buffer, maxHeaderSize: number, finishAtEnd: boolean): ReferenceParse {
  const { HTTPParser } = common;
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, maxHeaderSize, HTTPParser.kLenientNone);
  const requests: ReferenceRequest[] = [];
  let pendingHeaders: string[] = [];
  let pendingUrl = '';
  let inMessage = false;
  let current: ReferenceRequest | undefined;
  parser[HTTPParser.kOnMessageBegin] = () => {
    inMessage = true;
    pendingHeaders = [];
    pendingUrl = '';
    current = undefined;
  };
  // node's parser flushes headers in groups of 32 pairs before the head completes.
  parser[HTTPParser.kOnHeaders] = ((headers: string[], url: string) => {
    pendingHeaders.push(...headers);
    pendingUrl += url;
  }) as never;
  parser[HTTPParser.kOnHeadersComplete] = ((
    versionMajor: number,
    versionMinor: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    _statusCode: number,
    _statusMessage: string,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    current = {
      method: LLHTTP_METHODS[method] ?? `#${method}`,
      url: url ?? pendingUrl,
      versionMajor,
      versionMinor,
      headers: pairs(headers ?? pendingHeaders),
      upgrade,
      keepAlive,
      complete: false,
    };
    requests.push(current);
    return 0;
  }) as never;
  parser[HTTPParser.kOnBody] = (() => undefined) as never;
  parser[HTTPParser.kOnMessageComplete] = (() => {
    inMessage = false;
    if (current) current.complete = true;
  }) as never;
  try {
    const result = parser.execute(bytes);
    if (result instanceof Error) return { requests, error: { code: result.code ?? 'HPE_UNKNOWN', atEnd: false }, partialHead: false };
    // An upgrade (or CONNECT) hands the rest of the bytes to the upgraded protocol.
    if (requests.at(-1)?.upgrade) return { requests, error: undefined, partialHead: false };
    const partialHead = inMessage && current === undefined;
    if (finishAtEnd) {
      const end = parser.finish();
      if (end instanceof Error) return { requests, error: { code: end.code ?? 'HPE_UNKNOWN', atEnd: true }, partialHead };
    }
    return { requests, error: undefined, partialHead };
  } finally {
    parser.close();
  }
}

/** The first value of header `name` (case-insensitive), or undefined. */
export function headerValue(request: ReferenceRequest, name: string): string | undefined {
  return request.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Every value of header `name` (case-insensitive) joined with ", ", as node presents a repeated list field (RFC 9110 §5.3). */
export function headerList(request: ReferenceRequest, name: string): string | undefined {
  const values = request.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(', ');
}

/** How many times header `name` (case-insensitive) appears. */
export function headerCount(request: ReferenceRequest, name: string): number {
  return request.headers.filter(([n]) => n.toLowerCase() === name).length;
}
