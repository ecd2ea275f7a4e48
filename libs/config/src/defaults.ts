/** Documented defaults for every configuration key (docs/configuration.md). */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_PREFIX = 'hopgate:';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_LOG_LEVEL = 'info';
/**
 * Every service: address of the ops listener (/healthz, /readyz), HOPGATE_OPS_LISTEN; `off`
 * turns it off. Never a public port: probes and scrapers reach it inside the cluster.
 */
export const DEFAULT_OPS_LISTEN = '0.0.0.0:9090';
/**
 * Every service: longest drain on SIGTERM/SIGINT, in ms (HOPGATE_DRAIN_TIMEOUT_MS): requests,
 * sessions or orders still running then are cut by the stop that follows. Kubernetes'
 * terminationGracePeriodSeconds must exceed HOPGATE_DRAIN_DELAY_MS + this.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/**
 * Every service: time between readiness turning false on SIGTERM and the start of the drain,
 * in ms (HOPGATE_DRAIN_DELAY_MS): the service keeps serving and accepting meanwhile, while
 * Kubernetes removes the pod from its Service's endpoints. 0 outside Kubernetes.
 */
export const DEFAULT_DRAIN_DELAY_MS = 0;

export const DEFAULT_HTTPS_LISTEN = '0.0.0.0:443';
export const DEFAULT_HTTP_LISTEN = '0.0.0.0:80';
export const DEFAULT_HTTP_MODE = 'redirect';
/** Time the ingress waits for the response head from the agent before answering 504. */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 60_000;
/** Full re-read of the route table, whatever keyspace notifications said. */
export const DEFAULT_ROUTE_RELOAD_INTERVAL_MS = 2_000;
/** How long the ingress trusts a cached session owner before asking Redis again. */
export const DEFAULT_OWNER_CACHE_TTL_MS = 1_000;
/** Largest request head the ingress accepts (HTTP/1.1 request line + headers; HTTP/2 header list), in bytes. */
export const DEFAULT_MAX_HEADER_BYTES = 32 * 1024;
/**
 * Ingress: the peers whose X-Forwarded-For (and PROXY protocol header) are believed, as
 * comma-separated CIDRs. None: every peer is the client itself.
 */
export const DEFAULT_TRUSTED_PROXIES = '';
/** Ingress: whether both TCP listeners require a PROXY protocol header (v1 or v2) first on every connection. */
export const DEFAULT_PROXY_PROTOCOL = false;
/** HOPGATE_SERVER_TIMING: no Server-Timing header unless asked for. */
export const DEFAULT_SERVER_TIMING = false;

export const DEFAULT_DTLS_LISTEN = '0.0.0.0:443';
/** Lifetime of a session ownership record; the owning hub refreshes it every third of it. */
export const DEFAULT_SESSION_TTL_MS = 15_000;
/** Time an agent has, after the DTLS handshake, to say hello and authenticate. */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;
/** Hub: requests and WebSockets in flight at once over one agent session; more get 503. */
export const DEFAULT_MAX_STREAMS_PER_AGENT = 256;
/**
 * Largest accepted HOPGATE_MAX_STREAMS_PER_AGENT. Agents accept this many concurrent streams
 * from their hub (transport MAX_STREAMS), so the hub's own cap is always the one met first.
 */
export const MAX_STREAMS_PER_AGENT_LIMIT = 65_536;

/** Agent reconnect backoff: first delay, cap, both in ms (full jitter applied). */
export const DEFAULT_RECONNECT_MIN_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
/**
 * Agent retry after the hub refused it (ERR_AUTH_FAILED, ERR_BAD_VERSION), in ms: first delay
 * and cap of its own backoff (doubling, jittered). A refusal does not cure itself the way a
 * lost network does: it waits for an operator, so retries grow to minutes instead of seconds.
 */
export const DEFAULT_REFUSED_RETRY_MIN_MS = 5_000;
export const DEFAULT_REFUSED_RETRY_MAX_MS = 300_000;
/** Agent: time to connect to a local service, in ms. */
export const DEFAULT_ORIGIN_CONNECT_TIMEOUT_MS = 10_000;
/**
 * Agent: time from sending a request to a local service to its complete response head, in ms.
 * Below DEFAULT_RESPONSE_TIMEOUT_MS (the ingress's wait) so the agent's message, which names
 * the local service, reaches the browser rather than the ingress's generic one.
 */
export const DEFAULT_RESPONSE_HEADER_TIMEOUT_MS = 55_000;
/**
 * Longest silence in the middle of a body, in ms. Ingress (HOPGATE_BODY_IDLE_TIMEOUT_MS): a
 * browser's upload stalled this long is cancelled (408 before the response head). Agent
 * (body_idle_timeout_ms): a local service silent this long mid-response has its stream reset.
 */
export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 300_000;
/**
 * Ingress: a request that announces a body (Content-Length > 0, chunked, or HTTP/2 HEADERS
 * without END_STREAM) and sends no body byte within this many ms is answered 408 and its
 * relay stream cancelled (HOPGATE_BODY_START_TIMEOUT_MS); shorter than the body idle timeout.
 */
export const DEFAULT_BODY_START_TIMEOUT_MS = 30_000;
/**
 * Ingress: HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS advertised to every client (RFC 9113 §6.5.2),
 * per connection (HOPGATE_H2_MAX_CONCURRENT_STREAMS). Node's own default is unlimited.
 */
export const DEFAULT_H2_MAX_CONCURRENT_STREAMS = 128;
/** Largest accepted HOPGATE_H2_MAX_CONCURRENT_STREAMS: the 32-bit field of the setting (RFC 9113 §6.5.2). */
export const MAX_H2_CONCURRENT_STREAMS_LIMIT = 0xffff_ffff;
/**
 * Ingress: streams an HTTP/2 client may reset before their response (RST_STREAM, CVE-2023-44487
 * "rapid reset") within H2_RESET_WINDOW_MS on one connection; one more and the connection gets
 * GOAWAY(ENHANCE_YOUR_CALM) and is closed (HOPGATE_H2_MAX_RESETS_PER_WINDOW; 0 = no limit).
 */
export const DEFAULT_H2_MAX_RESETS_PER_WINDOW = 200;
/**
 * Ingress: TCP connections one client address may hold open at once, on each listener
 * (HOPGATE_MAX_CONNECTIONS_PER_IP; 0 = no limit). Over it, a new connection is closed at once.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 256;
/**
 * Ingress: time from a TCP connect on the HTTPS port to a completed TLS handshake, ClientHello
 * included, in ms (HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS); then the connection is closed.
 */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** A hub<->agent session with no datagram for this long is dead (both sides), in ms. */
export const DEFAULT_AGENT_IDLE_TIMEOUT_MS = 15_000;

/**
 * Ingress and hub: every this many ms, the certificates they serve from Redis are checked
 * again (serial, not_after), whatever `hopgate.cert.updated` said: a missed broadcast costs
 * at most this long.
 */
export const DEFAULT_CERT_REREAD_INTERVAL_MS = 60_000;
/** Smallest accepted HOPGATE_CERT_REREAD_INTERVAL_MS, in ms (tests use short periods). */
export const MIN_CERT_REREAD_INTERVAL_MS = 100;
/** cert-manager: ACME challenge type used to prove control of a name (HOPGATE_ACME_CHALLENGE). */
export const DEFAULT_ACME_CHALLENGE = 'http-01';
/** cert-manager: how often the renewal scheduler looks for due, missing and failed certificates, in ms (1 hour). */
export const DEFAULT_ACME_RENEW_CHECK_INTERVAL_MS = 3_600_000;
/** cert-manager: first retry delay after a failed order, in ms; doubles per attempt (capped in the service). */
export const DEFAULT_ACME_RETRY_BASE_MS = 60_000;
/**
 * cert-manager: first delay between two polls of a pending ACME challenge or order, in ms
 * (acme-client's own default; it doubles up to 30 s).
 */
export const DEFAULT_ACME_POLL_MIN_MS = 5_000;
