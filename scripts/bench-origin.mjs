// The benchmark's origin service, in its own process (see scripts/bench.mjs):
//   GET  /1k                    1 KiB of text
//   GET  /bytes/<n>?id=<id>     n pseudo-random bytes; their sha256 is kept under <id>
//   GET  /digest/<id>           {"bytes": n, "sha256": hex} of what /bytes sent under <id>
//   POST /sink                  {"bytes": n, "sha256": hex} of the request body
//   GET  /sse?events=<n>&gap_ms=<ms>  n server-sent events, gap_ms apart, each stamped with the
//                               origin's monotonic clock (process.hrtime, CLOCK_MONOTONIC: the
//                               same clock in every process of the machine) in nanoseconds.
// Listens on 127.0.0.1, or on the address given as the first argument (the WAN runs: 0.0.0.0).
// Prints its port on stdout once listening.
import crypto from 'node:crypto';
import http from 'node:http';

const ONE_KIB = Buffer.alloc(1024, 'x');
/** Download chunk size in bytes (one res.write). */
const CHUNK_BYTES = 64 * 1024;
/** The download pattern: random bytes, a length prime to the chunk size so chunks differ. */
const PATTERN = crypto.randomBytes(1024 * 1024 + 7);
/** Keep-alive of idle client connections, in ms. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** Most SSE events one request may ask for. */
const MAX_SSE_EVENTS = 1000;
/** Digests kept for /digest before the oldest is forgotten. */
const MAX_DIGESTS = 64;

const digests = new Map();

function remember(id, value) {
  digests.set(id, value);
  if (digests.size > MAX_DIGESTS) digests.delete(digests.keys().next().value);
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendBytes(res, total, id) {
  const hash = crypto.createHash('sha256');
  let sent = 0;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  const pump = () => {
    while (sent < total) {
      const offset = sent % PATTERN.length;
      const n = Math.min(total - sent, CHUNK_BYTES, PATTERN.length - offset);
      const chunk = PATTERN.subarray(offset, offset + n);
      hash.update(chunk);
      sent += n;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (id) remember(id, { bytes: sent, sha256: hash.digest('hex') });
    res.end();
  };
  pump();
}

function sse(res, events, gapMs) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let n = 0;
  const tick = () => {
    res.write(`id: ${n}\ndata: ${process.hrtime.bigint()}\n\n`);
    n += 1;
    if (n >= events) return void res.end();
    setTimeout(tick, gapMs);
  };
  tick();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://origin');
  if (url.pathname === '/1k') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': ONE_KIB.length });
    res.end(ONE_KIB);
  } else if (url.pathname.startsWith('/bytes/')) {
    const total = Number(url.pathname.slice(7));
    if (!Number.isSafeInteger(total) || total < 0) return json(res, 400, { error: 'bad byte count' });
    sendBytes(res, total, url.searchParams.get('id'));
  } else if (url.pathname.startsWith('/digest/')) {
    const found = digests.get(url.pathname.slice(8));
    if (found) json(res, 200, found);
    else json(res, 404, { error: 'no such digest' });
  } else if (url.pathname === '/sink' && req.method === 'POST') {
    const hash = crypto.createHash('sha256');
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      hash.update(c);
    });
    req.on('end', () => json(res, 200, { bytes: n, sha256: hash.digest('hex') }));
  } else if (url.pathname === '/sse') {
    const events = Number(url.searchParams.get('events') ?? 10);
    const gapMs = Number(url.searchParams.get('gap_ms') ?? 50);
    if (!Number.isInteger(events) || events < 1 || events > MAX_SSE_EVENTS || !(gapMs >= 0)) return json(res, 400, { error: 'bad sse parameters' });
    sse(res, events, gapMs);
  } else {
    json(res, 404, { error: 'not found' });
  }
});
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
/** Where the origin listens (argv[2]), default loopback. */
const LISTEN_HOST = process.argv[2] ?? '127.0.0.1';
server.listen(0, LISTEN_HOST, () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
