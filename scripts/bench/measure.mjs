// The bench's measurements, each against one base URL (the origin, nginx in front of ssh -R,
// or the HopGate ingress): GET under load, GET one at a time, download, upload, SSE.
// Used by scripts/bench.mjs and scripts/bench/wan-run.mjs.
import crypto from 'node:crypto';
import { request } from 'undici';
import autocannon from 'autocannon';

/** Requests sent before each c=1 loop starts timing (connection set-up, JIT). */
const C1_WARMUP_REQUESTS = 200;
/** Upload chunk size in bytes. */
const UPLOAD_CHUNK_BYTES = 64 * 1024;
export const SSE_EVENTS = 10;
/** Origin-side spacing of the SSE events, in ms. */
export const SSE_GAP_MS = 50;
/** SSE streams per side; the median first-event time is reported. */
const SSE_RUNS = 3;
/** Default: a transfer still running after this long is cut and reported on the bytes it moved, in ms. */
export const DEFAULT_TRANSFER_DEADLINE_MS = 180_000;

export const nowNs = () => process.hrtime.bigint();
export const msSince = (t0) => Number(nowNs() - t0) / 1e6;
export const round = (n, digits = 3) => (Number.isFinite(n) ? +n.toFixed(digits) : null);

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** autocannon at `connections` for `seconds` (latency in whole ms, as autocannon reports it). */
export async function getLoad(url, { connections, seconds, headers, servername, ca }) {
  const tls = servername ? { servername, tlsOptions: { ca, servername } } : {};
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1, headers, ...tls });
  return {
    req_per_s: Math.round(result.requests.average),
    requests: result.requests.total,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

/** One connection, one request at a time for `seconds`, timed with hrtime (sub-ms latency). */
export async function sequentialGet(url, dispatcher, headers, seconds) {
  let errors = 0;
  const one = async () => {
    const t0 = nowNs();
    try {
      const res = await request(url, { dispatcher, headers });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) errors += 1;
    } catch {
      errors += 1;
    }
    return msSince(t0);
  };
  for (let i = 0; i < C1_WARMUP_REQUESTS; i++) await one();
  errors = 0;
  const latencies = [];
  const started = nowNs();
  const until = started + BigInt(Math.round(seconds * 1e9));
  while (nowNs() < until) latencies.push(await one());
  const elapsed = msSince(started) / 1e3;
  latencies.sort((a, b) => a - b);
  return {
    req_per_s: Math.round(latencies.length / elapsed),
    p50_ms: round(percentile(latencies, 0.5)),
    p99_ms: round(percentile(latencies, 0.99)),
    errors,
  };
}

/**
 * GET /bytes/<bytes> until the end or `deadlineMs`; checks sha256 against what the origin sent
 * (`digestOf(id)`, skipped when null).
 */
export async function download(base, dispatcher, headers, bytes, digestOf, deadlineMs = DEFAULT_TRANSFER_DEADLINE_MS) {
  const id = crypto.randomUUID();
  const hash = crypto.createHash('sha256');
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), deadlineMs);
  const started = nowNs();
  let got = 0;
  let cut = false;
  try {
    const res = await request(`${base}/bytes/${bytes}?id=${id}`, { dispatcher, headers, signal: controller.signal, bodyTimeout: deadlineMs, headersTimeout: deadlineMs });
    if (res.statusCode !== 200) throw new Error(`download status ${res.statusCode}`);
    for await (const c of res.body) {
      got += c.length;
      hash.update(c);
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    cut = true;
  } finally {
    clearTimeout(deadline);
  }
  const s = msSince(started) / 1e3;
  let sha256_ok = null;
  if (!cut) {
    if (got !== bytes) throw new Error(`download short: ${got}/${bytes}`);
    if (digestOf) {
      const sent = await digestOf(id);
      sha256_ok = sent.bytes === bytes && sent.sha256 === hash.digest('hex');
    }
  }
  return { mb_per_s: round(got / 1e6 / s, 1), seconds: round(s, 2), bytes: got, cut, sha256_ok };
}

/** POST /sink with `bytes` of random data; the origin's digest must match. */
export async function upload(base, dispatcher, headers, bytes, deadlineMs = DEFAULT_TRANSFER_DEADLINE_MS) {
  const chunk = crypto.randomBytes(UPLOAD_CHUNK_BYTES);
  const hash = crypto.createHash('sha256');
  async function* body() {
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      const part = bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent);
      hash.update(part);
      yield part;
    }
  }
  const started = nowNs();
  const res = await request(`${base}/sink`, {
    method: 'POST',
    body: body(),
    dispatcher,
    headers: { ...headers, 'content-length': String(bytes) },
    bodyTimeout: deadlineMs,
    headersTimeout: deadlineMs,
  });
  const reply = await res.body.json();
  const s = msSince(started) / 1e3;
  if (reply.bytes !== bytes) throw new Error(`upload short: ${reply.bytes}/${bytes}`);
  return { mb_per_s: round(bytes / 1e6 / s, 1), seconds: round(s, 2), sha256_ok: reply.sha256 === hash.digest('hex') };
}

/** One SSE stream: first-event time from the request, event spacing at the client, transit. */
async function sseOnce(base, dispatcher, headers) {
  const t0 = nowNs();
  const res = await request(`${base}/sse?events=${SSE_EVENTS}&gap_ms=${SSE_GAP_MS}`, { dispatcher, headers });
  if (res.statusCode !== 200) throw new Error(`sse status ${res.statusCode}`);
  const arrivals = [];
  const transitMs = [];
  let text = '';
  for await (const c of res.body) {
    const at = nowNs();
    text += c.toString('utf8');
    let end;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const event = text.slice(0, end);
      text = text.slice(end + 2);
      const data = /^data: (\d+)$/m.exec(event);
      if (!data) continue;
      arrivals.push(at);
      transitMs.push(Number(at - BigInt(data[1])) / 1e6);
    }
  }
  if (arrivals.length !== SSE_EVENTS) throw new Error(`sse: ${arrivals.length}/${SSE_EVENTS} events`);
  const gaps = arrivals.slice(1).map((a, i) => Number(a - arrivals[i]) / 1e6);
  return {
    first_event_ms: Number(arrivals[0] - t0) / 1e6,
    gap_mean_ms: gaps.reduce((a, b) => a + b, 0) / gaps.length,
    gap_max_dev_ms: Math.max(...gaps.map((g) => Math.abs(g - SSE_GAP_MS))),
    transit_max_ms: Math.max(...transitMs),
  };
}

/**
 * SSE_RUNS streams, each on a fresh connection (`newDispatcher()` per stream, closed after),
 * so the first-event time includes the connection set-up as a browser's first visit does.
 */
export async function sse(base, newDispatcher, headers) {
  const runs = [];
  for (let i = 0; i < SSE_RUNS; i++) {
    const dispatcher = newDispatcher();
    try {
      runs.push(await sseOnce(base, dispatcher, headers));
    } finally {
      await dispatcher.close();
    }
  }
  const median = (key) => runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  return {
    first_event_ms: round(median('first_event_ms')),
    gap_mean_ms: round(median('gap_mean_ms')),
    gap_max_dev_ms: round(Math.max(...runs.map((r) => r.gap_max_dev_ms))),
    transit_max_ms: round(Math.max(...runs.map((r) => r.transit_max_ms))),
  };
}
