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
  const message = reassembleHandshake(bytes);
  if (message.status !== 'message') return message;
  return parseClientHelloBody(message.body);
}

type Reassembly = ClientHelloParse | { status: 'message'; body: Buffer };

/** Collects the first handshake message from consecutive handshake records. */
function reassembleHandshake(bytes: Buffer): Reassembly {
  const fragments: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const verdict = checkMessage(fragments);
    if (verdict) return verdict;
    if (offset === bytes.length) return INCOMPLETE;
    if (bytes.length - offset < TLS_RECORD_HEADER_BYTES) return checkPartialRecordHeader(bytes.subarray(offset));
    const type = bytes.readUInt8(offset);
    const major = bytes.readUInt8(offset + 1);
    const length = bytes.readUInt16BE(offset + 3);
    if (type !== ContentTypeHandshake) return invalid(`first record is not a handshake (content type ${type})`);
    if (major !== 3) return invalid(`record version ${major}.${bytes.readUInt8(offset + 2)} is not TLS`);
    // RFC 8446 §5.1: no zero-length handshake fragments, none above 2^14.
    if (length === 0 || length > MAX_TLS_PLAINTEXT_BYTES) return invalid(`handshake record length ${length}`);
    const start = offset + TLS_RECORD_HEADER_BYTES;
    const available = Math.min(length, bytes.length - start);
    fragments.push(bytes.subarray(start, start + available));
    if (available < length) return checkMessage(fragments) ?? INCOMPLETE;
    offset = start + length;
  }
}

/** The whole ClientHello once `fragments` hold it, a refusal, or undefined while more is needed. */
function checkMessage(fragments: readonly Buffer[]): Reassembly | undefined {
  const collected = Buffer.concat(fragments);
  if (collected.length === 0) return undefined;
  const type = collected.readUInt8(0);
  if (type !== HandshakeTypeClientHello) return invalid(`first handshake message is not a ClientHello (type ${type})`);
  if (collected.length < TLS_HANDSHAKE_HEADER_BYTES) return undefined;
  const messageLength = collected.readUIntBE(1, 3);
  if (messageLength > MAX_CLIENT_HELLO_BYTES) return invalid(`ClientHello of ${messageLength} bytes is above ${MAX_CLIENT_HELLO_BYTES}`);
  if (collected.length < TLS_HANDSHAKE_HEADER_BYTES + messageLength) return undefined;
  return { status: 'message', body: collected.subarray(TLS_HANDSHAKE_HEADER_BYTES, TLS_HANDSHAKE_HEADER_BYTES + messageLength) };
}

/** A record header cut short: incomplete if what is there could start a handshake record. */
function checkPartialRecordHeader(head: Buffer): ClientHelloParse {
  if (head.length >= 1 && head.readUInt8(0) !== ContentTypeHandshake) return invalid(`first record is not a handshake (content type ${head.readUInt8(0)})`);
  if (head.length >= 2 && head.readUInt8(1) !== 3) return invalid(`record version ${head.readUInt8(1)} is not TLS`);
  return INCOMPLETE;
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
