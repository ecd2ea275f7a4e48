import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  loadIngressConfig,
  loadHubConfig,
  parseAgentConfig,
  ID_PATTERN,
  defaultInstanceId,
  parseHostPort,
  DEFAULT_REDIS_PREFIX,
  DEFAULT_MAX_HEADER_BYTES,
  MAX_HEADER_BYTES_LIMIT,
  DEFAULT_PROXY_PROTOCOL,
  DEFAULT_TRUSTED_PROXIES,
  DEFAULT_MAX_STREAMS_PER_AGENT,
  MAX_STREAMS_PER_AGENT_LIMIT,
  DEFAULT_RESPONSE_HEADER_TIMEOUT_MS,
  DEFAULT_RESPONSE_TIMEOUT_MS,
  DEFAULT_BODY_IDLE_TIMEOUT_MS,
  DEFAULT_BODY_START_TIMEOUT_MS,
  DEFAULT_H2_MAX_CONCURRENT_STREAMS,
  DEFAULT_H2_MAX_RESETS_PER_WINDOW,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_ORIGIN_CONNECT_TIMEOUT_MS,
  DEFAULT_CERT_REREAD_INTERVAL_MS,
  DEFAULT_ACME_RENEW_CHECK_INTERVAL_MS,
  DEFAULT_ACME_RETRY_BASE_MS,
  DEFAULT_REFUSED_RETRY_MIN_MS,
  DEFAULT_REFUSED_RETRY_MAX_MS,
  loadCertManagerConfig,
  DEFAULT_OPS_LISTEN,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_DRAIN_DELAY_MS,
} from '../src/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-config-'));

test('host:port parsing', () => {
  assert.deepEqual(parseHostPort('0.0.0.0:443', 'x'), { host: '0.0.0.0', port: 443 });
  assert.deepEqual(parseHostPort('[::1]:8443', 'x'), { host: '::1', port: 8443 });
  assert.deepEqual(parseHostPort(':80', 'x'), { host: '0.0.0.0', port: 80 });
  assert.throws(() => parseHostPort('nope', 'x'), { code: 'ERR_BAD_CONFIG' });
  assert.throws(() => parseHostPort('a:99999', 'x'), { code: 'ERR_BAD_CONFIG' });
});

test('ingress config: env wins over the YAML file; defaults documented', () => {
  const file = path.join(tmp, 'ingress.yaml');
  fs.writeFileSync(file, 'redis_url: redis://file:1\nhttp_mode: serve\nhttps_listen: "off"\n');
  const cfg = loadIngressConfig({ HOPGATE_CONFIG: file, HOPGATE_REDIS_URL: 'redis://env:2', HOPGATE_HTTP_LISTEN: '127.0.0.1:8080' });
  assert.equal(cfg.redisUrl, 'redis://env:2');
  assert.equal(cfg.httpMode, 'serve');
  assert.equal(cfg.httpsListen, undefined);
  assert.deepEqual(cfg.httpListen, { host: '127.0.0.1', port: 8080 });
  assert.equal(cfg.redisPrefix, DEFAULT_REDIS_PREFIX);
  assert.throws(() => loadIngressConfig({ HOPGATE_CONFIG: file, HOPGATE_HTTPS_LISTEN: '127.0.0.1:8443', HOPGATE_HTTP_MODE: 'bogus' }), /must be one of/);
  assert.throws(() => loadIngressConfig({ HOPGATE_HTTPS_LISTEN: 'off', HOPGATE_HTTP_MODE: 'bogus' }), /must be one of/);
});

test('ingress edge limits: header size and body idle timeout, validated', () => {
  const base = { HOPGATE_HTTPS_LISTEN: 'off', HOPGATE_HTTP_LISTEN: '127.0.0.1:8080' };
  const defaults = loadIngressConfig(base);
  assert.equal(defaults.maxHeaderBytes, DEFAULT_MAX_HEADER_BYTES);
  assert.equal(defaults.maxHeaderBytes, 32 * 1024);
  assert.equal(defaults.bodyIdleTimeoutMs, DEFAULT_BODY_IDLE_TIMEOUT_MS);
  assert.equal(defaults.bodyIdleTimeoutMs, 300_000);
  const set = loadIngressConfig({ ...base, HOPGATE_MAX_HEADER_BYTES: String(MAX_HEADER_BYTES_LIMIT), HOPGATE_BODY_IDLE_TIMEOUT_MS: '1500' });
  assert.equal(set.maxHeaderBytes, MAX_HEADER_BYTES_LIMIT);
  assert.equal(set.bodyIdleTimeoutMs, 1500);
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_MAX_HEADER_BYTES: '100' }), /HOPGATE_MAX_HEADER_BYTES must be at least/);
  // More than the relay to the hubs can carry is refused at start, with the reason.
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_MAX_HEADER_BYTES: String(MAX_HEADER_BYTES_LIMIT + 1) }), /HOPGATE_MAX_HEADER_BYTES must be at most 49152, got 49153: the relay/);
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_BODY_IDLE_TIMEOUT_MS: '0' }), /HOPGATE_BODY_IDLE_TIMEOUT_MS must be at least 1/);
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_BODY_IDLE_TIMEOUT_MS: 'soon' }), { code: 'ERR_BAD_CONFIG' });
});

test('ingress trusted proxies and PROXY protocol: off and empty by default, lists from env or YAML, clear errors', () => {
  const base = { HOPGATE_HTTPS_LISTEN: 'off', HOPGATE_HTTP_LISTEN: '127.0.0.1:8080' };
  const defaults = loadIngressConfig(base);
  assert.equal(defaults.proxyProtocol, DEFAULT_PROXY_PROTOCOL);
  assert.equal(defaults.proxyProtocol, false);
  assert.equal(defaults.trustedProxies.toString(), DEFAULT_TRUSTED_PROXIES);
  assert.ok(defaults.trustedProxies.isEmpty);
  const set = loadIngressConfig({ ...base, HOPGATE_TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::/32,192.0.2.7', HOPGATE_PROXY_PROTOCOL: 'true' });
  assert.equal(set.proxyProtocol, true);
  assert.equal(set.trustedProxies.toString(), '10.0.0.0/8,2001:db8::/32,192.0.2.7/32');
  assert.ok(set.trustedProxies.contains('::ffff:10.2.3.4'));
  const file = path.join(tmp, 'ingress-proxies.yaml');
  fs.writeFileSync(file, 'trusted_proxies:\n  - 10.0.0.0/8\n  - fd00::/8\nproxy_protocol: true\n');
  const fromFile = loadIngressConfig({ ...base, HOPGATE_CONFIG: file });
  assert.equal(fromFile.trustedProxies.toString(), '10.0.0.0/8,fd00::/8');
  assert.equal(fromFile.proxyProtocol, true);
  fs.writeFileSync(file, 'trusted_proxies: "172.16.0.0/12, 127.0.0.1"\n');
  assert.equal(loadIngressConfig({ ...base, HOPGATE_CONFIG: file }).trustedProxies.toString(), '172.16.0.0/12,127.0.0.1/32');
  assert.equal(loadIngressConfig({ ...base, HOPGATE_CONFIG: file, HOPGATE_TRUSTED_PROXIES: '::1' }).trustedProxies.toString(), '::1/128');
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_PROXY_PROTOCOL: 'true' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_BAD_CONFIG');
    assert.match(err.message, /HOPGATE_TRUSTED_PROXIES/);
    assert.match(err.message, /0\.0\.0\.0\/0,::\/0/);
    return true;
  });
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_TRUSTED_PROXIES: '10.0.0.0/8,10.0.0.0/40' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_BAD_CONFIG');
    assert.match(err.message, /HOPGATE_TRUSTED_PROXIES: "10\.0\.0\.0\/40"/);
    return true;
  });
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_PROXY_PROTOCOL: 'maybe' }), /HOPGATE_PROXY_PROTOCOL must be true or false/);
  assert.equal(loadIngressConfig({ ...base, HOPGATE_PROXY_PROTOCOL: 'FALSE' }).proxyProtocol, false);
  fs.writeFileSync(file, 'trusted_proxies:\n  - {a: 1}\n');
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_CONFIG: file }), { code: 'ERR_BAD_CONFIG' });
});

test('ingress abuse limits: documented defaults, settable, validated (0 = off where documented)', () => {
  const base = { HOPGATE_HTTPS_LISTEN: 'off', HOPGATE_HTTP_LISTEN: '127.0.0.1:8080' };
  const defaults = loadIngressConfig(base);
  assert.equal(defaults.bodyStartTimeoutMs, DEFAULT_BODY_START_TIMEOUT_MS);
  assert.equal(DEFAULT_BODY_START_TIMEOUT_MS, 30_000);
  assert.ok(DEFAULT_BODY_START_TIMEOUT_MS < DEFAULT_BODY_IDLE_TIMEOUT_MS);
  assert.equal(defaults.h2MaxConcurrentStreams, DEFAULT_H2_MAX_CONCURRENT_STREAMS);
  assert.equal(DEFAULT_H2_MAX_CONCURRENT_STREAMS, 128);
  assert.equal(defaults.h2MaxResetsPerWindow, DEFAULT_H2_MAX_RESETS_PER_WINDOW);
  assert.equal(DEFAULT_H2_MAX_RESETS_PER_WINDOW, 200);
  assert.equal(defaults.maxConnectionsPerIp, DEFAULT_MAX_CONNECTIONS_PER_IP);
  assert.equal(DEFAULT_MAX_CONNECTIONS_PER_IP, 256);
  assert.equal(defaults.tlsHandshakeTimeoutMs, DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS);
  assert.equal(DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS, 10_000);
  const set = loadIngressConfig({
    ...base,
    HOPGATE_BODY_START_TIMEOUT_MS: '700',
    HOPGATE_H2_MAX_CONCURRENT_STREAMS: '8',
    HOPGATE_H2_MAX_RESETS_PER_WINDOW: '0',
    HOPGATE_MAX_CONNECTIONS_PER_IP: '0',
    HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS: '900',
  });
  assert.deepEqual(
    [set.bodyStartTimeoutMs, set.h2MaxConcurrentStreams, set.h2MaxResetsPerWindow, set.maxConnectionsPerIp, set.tlsHandshakeTimeoutMs],
    [700, 8, 0, 0, 900],
  );
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_BODY_START_TIMEOUT_MS: '0' }), /HOPGATE_BODY_START_TIMEOUT_MS must be at least 1/);
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS: '0' }), /HOPGATE_TLS_HANDSHAKE_TIMEOUT_MS must be at least 1/);
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_H2_MAX_CONCURRENT_STREAMS: '0' }), /HOPGATE_H2_MAX_CONCURRENT_STREAMS must be between 1 and 4294967295/);
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_H2_MAX_CONCURRENT_STREAMS: '4294967296' }), /HOPGATE_H2_MAX_CONCURRENT_STREAMS must be between/);
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_MAX_CONNECTIONS_PER_IP: '-1' }), { code: 'ERR_BAD_CONFIG' });
  assert.throws(() => loadIngressConfig({ ...base, HOPGATE_H2_MAX_RESETS_PER_WINDOW: 'many' }), { code: 'ERR_BAD_CONFIG' });
});

test('ingress certificate files: optional (certificates from Redis), but both or neither', () => {
  const none = loadIngressConfig({ HOPGATE_HTTPS_LISTEN: '127.0.0.1:8443' });
  assert.equal(none.tlsCertFile, undefined);
  assert.equal(none.tlsKeyFile, undefined);
  assert.equal(none.certRereadIntervalMs, DEFAULT_CERT_REREAD_INTERVAL_MS);
  assert.equal(DEFAULT_CERT_REREAD_INTERVAL_MS, 60_000);
  const both = loadIngressConfig({ HOPGATE_TLS_CERT_FILE: 'c.pem', HOPGATE_TLS_KEY_FILE: 'k.pem', HOPGATE_CERT_REREAD_INTERVAL_MS: '500' });
  assert.equal(both.tlsCertFile, 'c.pem');
  assert.equal(both.certRereadIntervalMs, 500);
  assert.throws(() => loadIngressConfig({ HOPGATE_TLS_CERT_FILE: 'c.pem' }), /HOPGATE_TLS_CERT_FILE is set but HOPGATE_TLS_KEY_FILE is not/);
  assert.throws(() => loadIngressConfig({ HOPGATE_TLS_KEY_FILE: 'k.pem' }), /HOPGATE_TLS_KEY_FILE is set but HOPGATE_TLS_CERT_FILE is not/);
  assert.throws(() => loadIngressConfig({ HOPGATE_CERT_REREAD_INTERVAL_MS: '5' }), /HOPGATE_CERT_REREAD_INTERVAL_MS must be at least/);
});

test('hub certificate: HOPGATE_HUB_NAME (Redis) or the files, both files or neither', () => {
  assert.throws(() => loadHubConfig({}), /set HOPGATE_HUB_NAME .* or HOPGATE_DTLS_CERT_FILE and HOPGATE_DTLS_KEY_FILE/);
  assert.throws(() => loadHubConfig({ HOPGATE_DTLS_CERT_FILE: 'c' }), /HOPGATE_DTLS_CERT_FILE is set but HOPGATE_DTLS_KEY_FILE is not/);
  assert.throws(() => loadHubConfig({ HOPGATE_HUB_NAME: 'hub.example.com', HOPGATE_DTLS_KEY_FILE: 'k' }), /HOPGATE_DTLS_KEY_FILE is set but/);
  const redisOnly = loadHubConfig({ HOPGATE_HUB_NAME: 'Hub.Example.COM.' });
  assert.equal(redisOnly.hubName, 'hub.example.com');
  assert.equal(redisOnly.dtlsCertFile, undefined);
  assert.equal(redisOnly.certRereadIntervalMs, DEFAULT_CERT_REREAD_INTERVAL_MS);
  const both = loadHubConfig({ HOPGATE_HUB_NAME: 'hub.example.com', HOPGATE_DTLS_CERT_FILE: 'c', HOPGATE_DTLS_KEY_FILE: 'k' });
  assert.equal(both.dtlsKeyFile, 'k');
  assert.throws(() => loadHubConfig({ HOPGATE_HUB_NAME: '*.example.com' }), /HOPGATE_HUB_NAME: .*wildcard/);
  assert.throws(() => loadHubConfig({ HOPGATE_HUB_NAME: 'bad_name.example' }), /HOPGATE_HUB_NAME: .*characters other than/);
});

test('hub config with file certificate', () => {
  assert.equal(loadHubConfig({ HOPGATE_DTLS_CERT_FILE: 'c', HOPGATE_DTLS_KEY_FILE: 'k' }).hubName, undefined);
  const cfg = loadHubConfig({ HOPGATE_DTLS_CERT_FILE: 'c', HOPGATE_DTLS_KEY_FILE: 'k', HOPGATE_HUB_ID: 'hub-1', HOPGATE_DTLS_LISTEN: '127.0.0.1:4433' });
  assert.equal(cfg.hubId, 'hub-1');
  assert.deepEqual(cfg.dtlsListen, { host: '127.0.0.1', port: 4433 });
});

test('hub config: per-agent stream cap, default and bounds', () => {
  const base = { HOPGATE_DTLS_CERT_FILE: 'c', HOPGATE_DTLS_KEY_FILE: 'k' };
  assert.equal(loadHubConfig(base).maxStreamsPerAgent, DEFAULT_MAX_STREAMS_PER_AGENT);
  assert.equal(DEFAULT_MAX_STREAMS_PER_AGENT, 256);
  assert.equal(loadHubConfig({ ...base, HOPGATE_MAX_STREAMS_PER_AGENT: '4' }).maxStreamsPerAgent, 4);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_MAX_STREAMS_PER_AGENT: '0' }), /HOPGATE_MAX_STREAMS_PER_AGENT must be between 1 and/);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_MAX_STREAMS_PER_AGENT: String(MAX_STREAMS_PER_AGENT_LIMIT + 1) }), { code: 'ERR_BAD_CONFIG' });
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_MAX_STREAMS_PER_AGENT: 'many' }), /non-negative integer/);
});

test('hub config: DTLS limits, unset (the DTLS server defaults) or set', () => {
  const base = { HOPGATE_DTLS_CERT_FILE: 'c', HOPGATE_DTLS_KEY_FILE: 'k' };
  assert.deepEqual(loadHubConfig(base).dtlsLimits, {
    maxHandshakesPerIp: undefined,
    maxUnauthenticatedPerIp: undefined,
    handshakesPerIpPerS: undefined,
    handshakeBurstPerIp: undefined,
    statsLogIntervalMs: undefined,
  });
  const set = loadHubConfig({
    ...base,
    HOPGATE_DTLS_MAX_HANDSHAKES_PER_IP: '500',
    HOPGATE_DTLS_MAX_UNAUTHENTICATED_PER_IP: '600',
    HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S: '40',
    HOPGATE_DTLS_HANDSHAKE_BURST_PER_IP: '400',
    HOPGATE_DTLS_STATS_LOG_INTERVAL_MS: '0',
  });
  assert.deepEqual(set.dtlsLimits, { maxHandshakesPerIp: 500, maxUnauthenticatedPerIp: 600, handshakesPerIpPerS: 40, handshakeBurstPerIp: 400, statsLogIntervalMs: 0 });
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_MAX_HANDSHAKES_PER_IP: '0' }), /HOPGATE_DTLS_MAX_HANDSHAKES_PER_IP must be at least 1/);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_MAX_UNAUTHENTICATED_PER_IP: '-3' }), { code: 'ERR_BAD_CONFIG' });
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S: '0' }), /HOPGATE_DTLS_HANDSHAKES_PER_IP_PER_S must be at least 1/);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_HANDSHAKE_BURST_PER_IP: '0.5' }), { code: 'ERR_BAD_CONFIG' });
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_STATS_LOG_INTERVAL_MS: 'often' }), /non-negative integer/);
});

test('agent config: origin timeouts, defaults and overrides', () => {
  const base = { server: 'h:1', client_id: 'a', token: 't', services: { w: '127.0.0.1:1' } };
  const defaults = parseAgentConfig(base, {});
  assert.equal(defaults.originConnectTimeoutMs, DEFAULT_ORIGIN_CONNECT_TIMEOUT_MS);
  assert.equal(defaults.responseHeaderTimeoutMs, DEFAULT_RESPONSE_HEADER_TIMEOUT_MS);
  assert.equal(defaults.bodyIdleTimeoutMs, DEFAULT_BODY_IDLE_TIMEOUT_MS);
  // The agent's clearer 504 must come before the ingress's generic one.
  assert.ok(DEFAULT_RESPONSE_HEADER_TIMEOUT_MS < DEFAULT_RESPONSE_TIMEOUT_MS);
  const set = parseAgentConfig({ ...base, origin_connect_timeout_ms: 500, response_header_timeout_ms: 700, body_idle_timeout_ms: 0 }, {});
  assert.equal(set.originConnectTimeoutMs, 500);
  assert.equal(set.responseHeaderTimeoutMs, 700);
  assert.equal(set.bodyIdleTimeoutMs, 0);
  assert.throws(() => parseAgentConfig({ ...base, response_header_timeout_ms: -1 }, {}), /"response_header_timeout_ms" must be a non-negative integer/);
  assert.throws(() => parseAgentConfig({ ...base, body_idle_timeout_ms: 'soon' }, {}), /"body_idle_timeout_ms" must be a non-negative integer/);
});

test('agent config: retry after a refusal grows to minutes by default; bounds validated', () => {
  const base = { server: 'h:1', client_id: 'a', token: 't', services: { w: '127.0.0.1:1' } };
  const defaults = parseAgentConfig(base, {});
  assert.equal(defaults.refusedRetryMinMs, DEFAULT_REFUSED_RETRY_MIN_MS);
  assert.equal(defaults.refusedRetryMaxMs, DEFAULT_REFUSED_RETRY_MAX_MS);
  assert.equal(DEFAULT_REFUSED_RETRY_MIN_MS, 5_000);
  assert.equal(DEFAULT_REFUSED_RETRY_MAX_MS, 300_000);
  const set = parseAgentConfig({ ...base, refused_retry_min_ms: 100, refused_retry_max_ms: 400 }, {});
  assert.equal(set.refusedRetryMinMs, 100);
  assert.equal(set.refusedRetryMaxMs, 400);
  assert.throws(() => parseAgentConfig({ ...base, refused_retry_min_ms: 0 }, {}), /need 1 <= refused_retry_min_ms <= refused_retry_max_ms/);
  assert.throws(() => parseAgentConfig({ ...base, refused_retry_min_ms: 500, refused_retry_max_ms: 400 }, {}), /need 1 <= refused_retry_min_ms <= refused_retry_max_ms/);
});

test('agent config: service names are own keys only (constructor is an ordinary name)', () => {
  const cfg = parseAgentConfig({ server: 'h:1', client_id: 'a', token: 't', services: { constructor: '127.0.0.1:1' } }, {});
  assert.deepEqual(cfg.services['constructor'], { host: '127.0.0.1', port: 1 });
  assert.equal(cfg.services['toString'], undefined);
  assert.equal(cfg.services['hasOwnProperty'], undefined);
});

test('agent config: seed keys, validation with clear errors', () => {
  const ca = path.join(tmp, 'ca.pem');
  fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
  const cfg = parseAgentConfig(
    { server: 'hub.example.com:443', client_id: 'laptop', token: 't0k', services: { web: '127.0.0.1:8080' }, ca_file: ca },
    {},
  );
  assert.equal(cfg.serverName, 'hub.example.com');
  assert.deepEqual(cfg.services['web'], { host: '127.0.0.1', port: 8080 });
  assert.ok(cfg.caPem?.startsWith('-----BEGIN'));
  assert.throws(() => parseAgentConfig({ server: 'h:1', client_id: 'a b', token: 't', services: { w: '127.0.0.1:1' } }, {}), /client_id/);
  assert.throws(() => parseAgentConfig({ server: 'h:1', client_id: 'a', services: { w: '127.0.0.1:1' } }, {}), /"token" is required/);
  assert.throws(() => parseAgentConfig({ server: 'h:1', client_id: 'a', token: 't', services: {} }, {}), /empty/);
});

test('cert-manager config: defaults, lists folded and deduplicated, clear errors', () => {
  const base = { HOPGATE_ACME_DIRECTORY: 'https://acme-staging-v02.api.letsencrypt.org/directory' };
  const cfg = loadCertManagerConfig({ ...base, HOPGATE_ACME_DOMAINS: ' App.Example.com, api.example.com ,app.example.com.,', HOPGATE_HUB_NAME: 'Hub.Example.com' });
  assert.equal(cfg.acmeChallenge, 'http-01');
  assert.deepEqual(cfg.acmeDomains, ['app.example.com', 'api.example.com']);
  assert.equal(cfg.hubName, 'hub.example.com');
  assert.equal(cfg.renewCheckIntervalMs, DEFAULT_ACME_RENEW_CHECK_INTERVAL_MS);
  assert.equal(cfg.renewCheckIntervalMs, 3_600_000);
  assert.equal(cfg.retryBaseMs, DEFAULT_ACME_RETRY_BASE_MS);
  assert.equal(cfg.acmeCacheDir, undefined);
  assert.equal(loadCertManagerConfig({ ...base, HOPGATE_ACME_CHALLENGE: 'tls-alpn-01' }).acmeChallenge, 'tls-alpn-01');

  const bad = (env: Record<string, string>, message: RegExp): void =>
    assert.throws(() => loadCertManagerConfig(env), (err: Error & { code?: string }) => err.code === 'ERR_BAD_CONFIG' && message.test(err.message), `${JSON.stringify(env)} -> ${message}`);
  bad({}, /HOPGATE_ACME_DIRECTORY is required/);
  bad({ HOPGATE_ACME_DIRECTORY: 'not a url' }, /HOPGATE_ACME_DIRECTORY must be a URL/);
  bad({ HOPGATE_ACME_DIRECTORY: 'http://acme.test/dir' }, /must be an https:\/\/ URL/);
  bad({ ...base, HOPGATE_ACME_CHALLENGE: 'dns-01' }, /HOPGATE_ACME_CHALLENGE must be one of http-01, tls-alpn-01, got "dns-01"/);
  bad({ ...base, HOPGATE_ACME_DOMAINS: 'ok.example.com,*.example.com' }, /HOPGATE_ACME_DOMAINS: "\*\.example\.com" is not a name ACME can certify: a wildcard name needs the DNS-01 challenge/);
  bad({ ...base, HOPGATE_ACME_DOMAINS: 'bad_name.example.com' }, /HOPGATE_ACME_DOMAINS: "bad_name\.example\.com" .*characters other than a-z, 0-9 and "-"/);
  bad({ ...base, HOPGATE_ACME_DOMAINS: 'a..example.com' }, /empty label/);
  bad({ ...base, HOPGATE_HUB_NAME: '192.0.2.1' }, /HOPGATE_HUB_NAME: .*IP address/);
  bad({ ...base, HOPGATE_ACME_EMAIL: 'nobody' }, /HOPGATE_ACME_EMAIL must be an e-mail address/);
  bad({ ...base, HOPGATE_ACME_CA_FILE: path.join(tmp, 'missing.pem') }, /HOPGATE_ACME_CA_FILE: no such file/);
  bad({ ...base, HOPGATE_ACME_RETRY_BASE_MS: 'soon' }, /HOPGATE_ACME_RETRY_BASE_MS must be a non-negative integer/);
  bad({ ...base, HOPGATE_ACME_RENEW_CHECK_INTERVAL_MS: '0' }, /HOPGATE_ACME_RENEW_CHECK_INTERVAL_MS must be at least/);
});

test('lifecycle settings of every service: ops listener, drain timeout and delay (defaults, overrides, off)', () => {
  const defaults = loadIngressConfig({});
  assert.deepEqual(defaults.opsListen, parseHostPort(DEFAULT_OPS_LISTEN, 'x'));
  assert.deepEqual(defaults.opsListen, { host: '0.0.0.0', port: 9090 });
  assert.equal(defaults.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS);
  assert.equal(defaults.drainDelayMs, DEFAULT_DRAIN_DELAY_MS);
  const set = loadIngressConfig({ HOPGATE_OPS_LISTEN: '127.0.0.1:0', HOPGATE_DRAIN_TIMEOUT_MS: '5000', HOPGATE_DRAIN_DELAY_MS: '2500' });
  assert.deepEqual(set.opsListen, { host: '127.0.0.1', port: 0 });
  assert.equal(set.drainTimeoutMs, 5000);
  assert.equal(set.drainDelayMs, 2500);
  assert.equal(loadIngressConfig({ HOPGATE_OPS_LISTEN: 'off' }).opsListen, undefined);
  assert.deepEqual(loadHubConfig({ HOPGATE_HUB_NAME: 'hub.example.com', HOPGATE_OPS_LISTEN: ':9191' }).opsListen, { host: '0.0.0.0', port: 9191 });
  assert.equal(loadCertManagerConfig({ HOPGATE_ACME_DIRECTORY: 'https://acme.test/dir', HOPGATE_DRAIN_TIMEOUT_MS: '1' }).drainTimeoutMs, 1);
  assert.throws(() => loadIngressConfig({ HOPGATE_OPS_LISTEN: '9090' }), /HOPGATE_OPS_LISTEN: expected host:port/);
  assert.throws(() => loadIngressConfig({ HOPGATE_OPS_LISTEN: '0.0.0.0:443' }), /HOPGATE_OPS_LISTEN must not be a public port/);
  assert.throws(() => loadIngressConfig({ HOPGATE_HTTP_LISTEN: '0.0.0.0:8080', HOPGATE_OPS_LISTEN: '127.0.0.1:8080' }), /must not be a public port/);
  assert.throws(() => loadIngressConfig({ HOPGATE_DRAIN_TIMEOUT_MS: '-1' }), /HOPGATE_DRAIN_TIMEOUT_MS must be a non-negative integer/);
});

test('agent config: ops_listen is off by default; :PORT listens on loopback', () => {
  const base = { server: 'h:1', client_id: 'a', token: 't', services: { w: '127.0.0.1:1' } };
  assert.equal(parseAgentConfig(base, {}).opsListen, undefined);
  assert.equal(parseAgentConfig({ ...base, ops_listen: 'off' }, {}).opsListen, undefined);
  assert.deepEqual(parseAgentConfig({ ...base, ops_listen: ':9191' }, {}).opsListen, { host: '127.0.0.1', port: 9191 });
  assert.deepEqual(parseAgentConfig({ ...base, ops_listen: '0.0.0.0:9191' }, {}).opsListen, { host: '0.0.0.0', port: 9191 });
  assert.throws(() => parseAgentConfig({ ...base, ops_listen: 'nope' }, {}), /ops_listen/);
});

test('agent config: instance_id, default hostname plus a random suffix; a bad one refused', () => {
  const base = { server: 'h:1', client_id: 'a', token: 't', services: { w: '127.0.0.1:1' } };
  const a = parseAgentConfig(base, {}).instanceId;
  const b = parseAgentConfig(base, {}).instanceId;
  assert.match(a, ID_PATTERN);
  assert.notEqual(a, b, 'two processes on one host get different ids');
  assert.match(defaultInstanceId('my host.example'), /^my-host\.example-[0-9a-f]{6}$/);
  assert.match(defaultInstanceId('x'.repeat(200)), ID_PATTERN);
  assert.match(defaultInstanceId('---'), /^agent-[0-9a-f]{6}$/);
  assert.equal(parseAgentConfig({ ...base, instance_id: 'nas-b' }, {}).instanceId, 'nas-b');
  assert.throws(() => parseAgentConfig({ ...base, instance_id: 'a:b' }, {}), /instance_id "a:b" must match/);
});
