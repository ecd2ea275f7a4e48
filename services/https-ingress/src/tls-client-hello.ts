/**
 * Reads what the ingress needs from a TLS ClientHello before any TLS library sees it: the
 * server name (SNI, RFC 6066 §3) and the offered ALPN protocols (RFC 7301 §3.1). The
 * certificate of a TLS-ALPN-01 answer depends on both (RFC 8737 §3), and OpenSSL picks the
 * certificate before it looks at ALPN, so the choice is made here, in front of OpenSSL.
 */

/** TLS record header: type(1) legacy_record_version(2) length(2) (RFC 8446 §5.1). */
export const TLS_RECORD_HEADER_BYTES = 5;
/** Handshake header: msg_type(1) length(3) (RFC 8446 §4). */
export const TLS_HANDSHAKE_HEADER_BYTES = 4;
/** RFC 8446 §5.1: a plaintext record's fragment is at most 2^14 bytes. */
export const MAX_TLS_PLAINTEXT_BYTES = 16_384;
/**
 * Largest ClientHello message accepted, in bytes. Browsers send 0.5-2 KiB (about 1.8 KiB
 * with a post-quantum key share); anything above this is refused, which bounds the bytes
 * buffered per connection before the handshake starts.
 */
export const MAX_CLIENT_HELLO_BYTES = 32 * 1024;

const ContentTypeHandshake = 22;
const HandshakeTypeClientHello = 1;
const RANDOM_BYTES = 32;
const MAX_SESSION_ID_BYTES = 32;
/** Extension types (IANA TLS ExtensionType registry). */
const ExtensionServerName = 0;
const ExtensionAlpn = 16;
/** RFC 6066 §3: NameType host_name. */
const NameTypeHostName = 0;

/** The parts of a ClientHello the ingress routes on. */
export interface TlsClientHello {
  /** The host_name of the server_name extension as sent (RFC 6066 §3), or undefined without one. */
  readonly serverName: string | undefined;
  /** ALPN protocol names in the client's order (RFC 7301 §3.1); empty without the extension. */
  readonly alpnProtocols: readonly string[];
  /** legacy_version of the ClientHello (0x0303 for TLS 1.2 and 1.3). */
  readonly legacyVersion: number;
}

export type ClientHelloParse =
  | { readonly status: 'incomplete' }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'complete'; readonly hello: TlsClientHello };

const INCOMPLETE: ClientHelloParse = { status: 'incomplete' };

function invalid(reason: string): ClientHelloParse {
  return { status: 'invalid', reason };
}

/**
 * Parses the first bytes a client sent on a TLS port. `incomplete`: more bytes are needed
 * (the ClientHello may span TCP segments and TLS records, RFC 8446 §5.1); `invalid`: not a
 * TLS ClientHello, or one this server refuses; `complete`: the ClientHello's SNI and ALPN.
 */
export function parseClientHello(bytes: Buffer): ClientHelloParse {
  return new ClientHelloReader().push(bytes);
}

/** Where the reader is in the byte stream (RFC 8446 §5.1: records of handshake fragments). */
const ReaderState = {
  /** Collecting the 5 bytes of a record header. */
  RecordHeader: 'record_header',
  /** Inside a handshake record's fragment: `recordRemaining` bytes to go. */
  RecordBody: 'record_body',
  /** A verdict (complete or invalid) was reached; later bytes are not looked at. */
  Done: 'done',
} as const;
type ReaderState = (typeof ReaderState)[keyof typeof ReaderState];

/**
 * Reads a ClientHello incrementally, as TCP delivers it: record headers are checked as their
 * bytes arrive, the handshake message's fragments are kept as slices of the received chunks
 * and joined once, when the message is complete. Every byte is looked at once, whatever the
 * chunking; nothing is re-concatenated per chunk.
 *
 *   record_header --5 bytes: handshake, TLS 3.x, 1..2^14--> record_body --fragment read--> record_header
 *   record_body --handshake header: ClientHello, <= MAX_CLIENT_HELLO_BYTES; whole message--> done
 *   any state --a byte that cannot start or continue a ClientHello--> done (invalid)
 */
export class ClientHelloReader {
  private state: ReaderState = ReaderState.RecordHeader;
  private verdict: ClientHelloParse = INCOMPLETE;
  /** Every chunk pushed, in order: what TLS must see once the ClientHello is read. */
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private readonly recordHeader = Buffer.alloc(TLS_RECORD_HEADER_BYTES);
  private recordHeaderFill = 0;
  /** Fragment bytes of the current record not yet read. */
  private recordRemaining = 0;
  private readonly handshakeHeader = Buffer.alloc(TLS_HANDSHAKE_HEADER_BYTES);
  private handshakeHeaderFill = 0;
  /** Body length announced by the handshake header (RFC 8446 §4), once its 4 bytes are in. */
  private messageLength = 0;
  private readonly messageParts: Buffer[] = [];
  private messageCollected = 0;

  /** Bytes pushed so far. */
  get receivedBytes(): number {
    return this.received;
  }

  /** Every byte pushed so far, in one buffer (joined once, for handing the connection on). */
  bytes(): Buffer {
    return this.chunks.length === 1 && this.chunks[0] !== undefined ? this.chunks[0] : Buffer.concat(this.chunks, this.received);
  }

  /** Takes the next bytes; the verdict so far (a verdict, once reached, never changes). */
  push(chunk: Buffer): ClientHelloParse {
    if (this.state === ReaderState.Done) return this.verdict;
    this.chunks.push(chunk);
    this.received += chunk.length;
    const verdict = this.consume(chunk);
    if (verdict !== undefined) {
      this.state = ReaderState.Done;
      this.verdict = verdict;
    }
    return this.verdict;
  }

  private consume(chunk: Buffer): ClientHelloParse | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.state === ReaderState.RecordHeader) {
        const take = Math.min(TLS_RECORD_HEADER_BYTES - this.recordHeaderFill, chunk.length - at);
        chunk.copy(this.recordHeader, this.recordHeaderFill, at, at + take);
        const verdict = this.checkRecordHeader(this.recordHeaderFill, this.recordHeaderFill + take);
        this.recordHeaderFill += take;
        at += take;
        if (verdict !== undefined) return verdict;
        if (this.recordHeaderFill === TLS_RECORD_HEADER_BYTES) {
          this.recordRemaining = this.recordHeader.readUInt16BE(3);
          this.recordHeaderFill = 0;
          this.state = ReaderState.RecordBody;
        }
      } else {
        const take = Math.min(this.recordRemaining, chunk.length - at);
        const verdict = this.handshakeBytes(chunk.subarray(at, at + take));
        this.recordRemaining -= take;
        at += take;
        if (verdict !== undefined) return verdict;
        if (this.recordRemaining === 0) this.state = ReaderState.RecordHeader;
      }
    }
    return undefined;
  }

  /** Checks the record header bytes [from, to) as they arrive (RFC 8446 §5.1). */
  private checkRecordHeader(from: number, to: number): ClientHelloParse | undefined {
    const head = this.recordHeader;
    if (from <= 0 && to > 0 && head.readUInt8(0) !== ContentTypeHandshake) return invalid(`first record is not a handshake (content type ${head.readUInt8(0)})`);
    if (from <= 1 && to > 1 && head.readUInt8(1) !== 3) return invalid(`record version ${head.readUInt8(1)} is not TLS`);
    if (to < TLS_RECORD_HEADER_BYTES) return undefined;
    const length = head.readUInt16BE(3);
    // RFC 8446 §5.1: no zero-length handshake fragments, none above 2^14.
    if (length === 0 || length > MAX_TLS_PLAINTEXT_BYTES) return invalid(`handshake record length ${length}`);
    return undefined;
  }

  /** Fragment bytes of a handshake record: the handshake header, then the ClientHello body. */
  private handshakeBytes(fragment: Buffer): ClientHelloParse | undefined {
    let at = 0;
    if (this.handshakeHeaderFill < TLS_HANDSHAKE_HEADER_BYTES) {
      const take = Math.min(TLS_HANDSHAKE_HEADER_BYTES - this.handshakeHeaderFill, fragment.length);
      fragment.copy(this.handshakeHeader, this.handshakeHeaderFill, 0, take);
      const first = this.handshakeHeaderFill === 0 && take > 0;
      this.handshakeHeaderFill += take;
      at = take;
      const type = this.handshakeHeader.readUInt8(0);
      if (first && type !== HandshakeTypeClientHello) return invalid(`first handshake message is not a ClientHello (type ${type})`);
      if (this.handshakeHeaderFill < TLS_HANDSHAKE_HEADER_BYTES) return undefined;
      this.messageLength = this.handshakeHeader.readUIntBE(1, 3);
      if (this.messageLength > MAX_CLIENT_HELLO_BYTES) return invalid(`ClientHello of ${this.messageLength} bytes is above ${MAX_CLIENT_HELLO_BYTES}`);
    }
    const part = fragment.subarray(at, at + (this.messageLength - this.messageCollected));
    if (part.length > 0) {
      this.messageParts.push(part);
      this.messageCollected += part.length;
    }
    if (this.messageCollected < this.messageLength) return undefined;
    const body = this.messageParts.length === 1 && this.messageParts[0] !== undefined ? this.messageParts[0] : Buffer.concat(this.messageParts, this.messageLength);
    return parseClientHelloBody(body);
  }
}

/** A cursor over a ClientHello body; every read is bounds-checked. */
class Reader {
  private offset = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  take(n: number): Buffer | undefined {
    if (n > this.remaining) return undefined;
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A vector with a 1- or 2-byte length prefix (RFC 8446 §3.4). */
  vector(lengthBytes: 1 | 2): Buffer | undefined {
    const len = this.take(lengthBytes);
    if (!len) return undefined;
    return this.take(lengthBytes === 1 ? len.readUInt8(0) : len.readUInt16BE(0));
  }
}

/** RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2: the ClientHello fields up to and including extensions. */
function parseClientHelloBody(body: Buffer): ClientHelloParse {
  const r = new Reader(body);
  const version = r.take(2);
  const random = r.take(RANDOM_BYTES);
  const sessionId = r.vector(1);
  const cipherSuites = r.vector(2);
  const compression = r.vector(1);
  if (!version || !random || !sessionId || !cipherSuites || !compression) return invalid('ClientHello truncated before its extensions');
  if (sessionId.length > MAX_SESSION_ID_BYTES) return invalid(`session id of ${sessionId.length} bytes`);
  if (cipherSuites.length < 2 || cipherSuites.length % 2 !== 0) return invalid(`cipher suite list of ${cipherSuites.length} bytes`);
  if (compression.length < 1) return invalid('empty compression method list');
  let serverName: string | undefined;
  let alpnProtocols: string[] = [];
  // RFC 5246 §7.4.1.2: a ClientHello without extensions ends here.
  if (r.remaining > 0) {
    const extensions = r.vector(2);
    if (!extensions) return invalid('extension block truncated');
    if (r.remaining !== 0) return invalid(`${r.remaining} bytes after the extensions`);
    const seen = new Set<number>();
    const er = new Reader(extensions);
    while (er.remaining > 0) {
      const head = er.take(2);
      const data = er.vector(2);
      if (!head || !data) return invalid('extension truncated');
      const type = head.readUInt16BE(0);
      // RFC 8446 §4.2: at most one extension of each type.
      if (seen.has(type)) return invalid(`extension ${type} sent twice`);
      seen.add(type);
      if (type === ExtensionServerName) {
        const parsed = parseServerName(data);
        if (typeof parsed !== 'string' && parsed !== undefined) return parsed;
        serverName = parsed;
      } else if (type === ExtensionAlpn) {
        const parsed = parseAlpn(data);
        if (!Array.isArray(parsed)) return parsed as ClientHelloParse;
        alpnProtocols = parsed;
      }
    }
  }
  return { status: 'complete', hello: { serverName, alpnProtocols, legacyVersion: version.readUInt16BE(0) } };
}

/** RFC 6066 §3: ServerNameList; the host_name entry (ASCII, one at most), or undefined. */
function parseServerName(data: Buffer): string | undefined | ClientHelloParse {
  const r = new Reader(data);
  const list = r.vector(2);
  if (!list || r.remaining !== 0) return invalid('server_name extension malformed');
  // RFC 6066 §3: an empty extension_data is what a server sends back, never a client.
  if (list.length === 0) return invalid('empty server_name list');
  const lr = new Reader(list);
  let hostName: string | undefined;
  while (lr.remaining > 0) {
    const type = lr.take(1);
    const name = lr.vector(2);
    if (!type || !name) return invalid('server_name entry truncated');
    if (type.readUInt8(0) !== NameTypeHostName) continue;
    if (hostName !== undefined) return invalid('two host_name entries in server_name');
    if (name.length === 0) return invalid('empty host_name');
    for (const byte of name) if (byte < 0x21 || byte > 0x7e) return invalid('host_name is not printable ASCII');
    hostName = name.toString('ascii');
  }
  return hostName;
}

/** RFC 7301 §3.1: ProtocolNameList of non-empty names. */
function parseAlpn(data: Buffer): string[] | ClientHelloParse {
  const r = new Reader(data);
  const list = r.vector(2);
  if (!list || r.remaining !== 0 || list.length < 2) return invalid('ALPN extension malformed');
  const lr = new Reader(list);
  const names: string[] = [];
  while (lr.remaining > 0) {
    const name = lr.vector(1);
    if (!name || name.length === 0) return invalid('ALPN protocol name empty or truncated');
    names.push(name.toString('latin1'));
  }
  return names;
}
