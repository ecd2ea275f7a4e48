// The benchmark's origin service, in its own process: GET /1k, GET /bytes/<n>, POST /sink.
import http from 'node:http';

const ONE_KIB = Buffer.alloc(1024, 'x');
const CHUNK = Buffer.alloc(64 * 1024, 'y');
const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/1k') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': ONE_KIB.length });
    res.end(ONE_KIB);
  } else if (url.startsWith('/bytes/')) {
    let left = Number(url.slice(7));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  } else if (url === '/sink') {
    let n = 0;
    req.on('data', (c) => (n += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes: n }));
    });
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
