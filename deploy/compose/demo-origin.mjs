// The demo origin of docker-compose.yml: a plain Node HTTP service with no dependencies, reached
// only through the agent. Runs in the node base image (`node demo-origin.mjs`, port $PORT, 8000).
//   GET  /                 a text page naming the request
//   GET  /bytes/<n>        n bytes (at most MAX_BYTES) of a fixed pattern, see patternChunk()
//   POST /                 counts the body: "received <n> bytes"
//   GET  /ws (Upgrade)     a WebSocket echo (RFC 6455): text and binary messages come back as sent
import http from 'node:http';
import crypto from 'node:crypto';

const PORT = Number(process.env.PORT ?? '8000');
/** Largest /bytes/<n> answer: 1 GiB. */
const MAX_BYTES = 1024 * 1024 * 1024;
/** Size of one pattern chunk, in bytes. */
const CHUNK_BYTES = 64 * 1024;
/** Largest WebSocket message echoed, in bytes. */
const MAX_WS_MESSAGE_BYTES = 1024 * 1024;
// RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key.
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Chunk k of /bytes: SHA-256("hopgate-<k>") repeated; the e2e test builds the same bytes. */
function patternChunk(k) {
  const seed = crypto.createHash('sha256').update(`hopgate-${k}`).digest();
  return Buffer.alloc(CHUNK_BYTES, seed);
}

function sendBytes(res, total) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let sent = 0;
  let k = 0;
  const pump = () => {
    while (sent < total) {
      const chunk = patternChunk(k++).subarray(0, Math.min(CHUNK_BYTES, total - sent));
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

const server = http.createServer((req, res) => {
  const bytes = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  if (req.method === 'GET' && bytes) {
    const total = Number(bytes[1]);
    if (total > MAX_BYTES) return void res.writeHead(400).end('too large\n');
    return sendBytes(res, total);
  }
  if (req.method === 'POST') {
    let n = 0;
    req.on('data', (c) => (n += c.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`received ${n} bytes\n`));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`Hello from the HopGate demo origin!\nYou asked for ${req.method} ${req.url}\nHost: ${req.headers.host}\nX-Forwarded-For: ${req.headers['x-forwarded-for']}\n`);
});

function wsFrame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126 && len < 65536) { head[0] = 0x80 | opcode; head[1] = 126; head.writeUInt16BE(len, 2); }
  if (len >= 65536) { head[0] = 0x80 | opcode; head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  return Buffer.concat([head, payload]);
}

server.on('upgrade', (req, socket, head) => {
  const key = req.headers['sec-websocket-key'];
  if (req.url !== '/ws' || typeof key !== 'string' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
  let buf = head;
  socket.on('error', () => socket.destroy());
  const onData = (data) => {
    buf = Buffer.concat([buf, data]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      const masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f;
      let at = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
      if (len > MAX_WS_MESSAGE_BYTES) return void socket.destroy();
      const need = at + (masked ? 4 : 0) + len;
      if (buf.length < need) return;
      const mask = masked ? buf.subarray(at, at + 4) : undefined;
      const payload = Buffer.from(buf.subarray(need - len, need));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buf = buf.subarray(need);
      if (opcode === 0x8) return void socket.end(wsFrame(0x8, payload.subarray(0, 2)));
      if (opcode === 0x9) socket.write(wsFrame(0xa, payload));
      else if (opcode === 0x1 || opcode === 0x2) socket.write(wsFrame(opcode, payload));
    }
  };
  if (buf.length > 0) setImmediate(() => onData(Buffer.alloc(0)));
  socket.on('data', onData);
});

server.listen(PORT, '0.0.0.0', () => process.stdout.write(`demo origin listening on 0.0.0.0:${PORT}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
