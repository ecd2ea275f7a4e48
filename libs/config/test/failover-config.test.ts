import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHubConfig, parseAgentConfig, parseCookieSecrets, MIN_DTLS_COOKIE_SECRET_BYTES } from '../src/index.js';

const agentBase = { client_id: 'a', token: 't', services: { w: '127.0.0.1:1' } };

test('agent server: one address works as before (server, servers, server_name from its host)', () => {
  const cfg = parseAgentConfig({ ...agentBase, server: 'hub.example.com:443' }, {});
  assert.deepEqual(cfg.server, { host: 'hub.example.com', port: 443 });
  assert.deepEqual(cfg.servers, [{ host: 'hub.example.com', port: 443 }]);
  assert.equal(cfg.serverName, 'hub.example.com');
});

test('agent server: a comma-separated string or a YAML list; server_name defaults to the first host', () => {
  const expected = [
    { host: 'hub-a.example.com', port: 443 },
    { host: '10.0.0.2', port: 4433 },
    { host: '::1', port: 443 },
  ];
  const fromString = parseAgentConfig({ ...agentBase, server: 'hub-a.example.com:443, 10.0.0.2:4433 ,[::1]:443' }, {});
  assert.deepEqual(fromString.servers, expected);
  const fromList = parseAgentConfig({ ...agentBase, server: ['hub-a.example.com:443', '10.0.0.2:4433', '[::1]:443'] }, {});
  assert.deepEqual(fromList.servers, expected);
  assert.deepEqual(fromList.server, expected[0]);
  assert.equal(fromList.serverName, 'hub-a.example.com');
  assert.equal(parseAgentConfig({ ...agentBase, server: ['a:1', 'b:2'], server_name: 'tunnel.example.com' }, {}).serverName, 'tunnel.example.com');
});

test('agent server: bad entries are config errors naming the entry', () => {
  assert.throws(() => parseAgentConfig({ ...agentBase }, {}), /"server" is required/);
  assert.throws(() => parseAgentConfig({ ...agentBase, server: ' , ' }, {}), /"server" is required/);
  assert.throws(() => parseAgentConfig({ ...agentBase, server: ['a:1', 7] }, {}), /list entries must be host:port strings/);
  assert.throws(() => parseAgentConfig({ ...agentBase, server: 'a:1,b' }, {}), /expected host:port, got "b"/);
  assert.throws(() => parseAgentConfig({ ...agentBase, server: 'a:1,:2' }, {}), /entry ":2" needs a host/);
  assert.throws(() => parseAgentConfig({ ...agentBase, server: 'a:0' }, {}), /entry "a:0" needs a port/);
  assert.throws(() => parseAgentConfig({ ...agentBase, server: 'A:1,a:1' }, {}), /lists "a:1" twice/);
  assert.throws(() => parseAgentConfig({ ...agentBase, server: { host: 'a' } }, {}), /must be host:port/);
});

test('HOPGATE_DTLS_COOKIE_SECRET: unset is a random key per process; hex and base64 lists, the first signs', () => {
  const base = { HOPGATE_DTLS_CERT_FILE: 'c', HOPGATE_DTLS_KEY_FILE: 'k' };
  assert.equal(loadHubConfig(base).dtlsCookieSecrets, undefined);
  const hex = 'a1'.repeat(16) + '5c'.repeat(16);
  const b64 = Buffer.from(Array.from({ length: 40 }, (_, i) => i * 7)).toString('base64');
  const secrets = loadHubConfig({ ...base, HOPGATE_DTLS_COOKIE_SECRET: `${hex}, ${b64}` }).dtlsCookieSecrets;
  assert.deepEqual(secrets, [Buffer.from(hex, 'hex'), Buffer.from(b64, 'base64')]);
  assert.equal(parseCookieSecrets(Buffer.alloc(32, 3).toString('base64url').replace(/^A/, 'B'), 'X')[0]!.length, 32, 'URL-safe base64');
});

test('HOPGATE_DTLS_COOKIE_SECRET: short, malformed or constant secrets are refused without echoing them', () => {
  const base = { HOPGATE_DTLS_CERT_FILE: 'c', HOPGATE_DTLS_KEY_FILE: 'k' };
  const short = 'ab'.repeat(MIN_DTLS_COOKIE_SECRET_BYTES - 1);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_COOKIE_SECRET: short }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_BAD_CONFIG');
    assert.match(err.message, /^HOPGATE_DTLS_COOKIE_SECRET entry 1 of 1 has 31 bytes; at least 32 are needed/);
    assert.ok(!err.message.includes(short), 'the secret is not in the message');
    return true;
  });
  const good = 'c3'.repeat(8) + '9f'.repeat(24);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_COOKIE_SECRET: `${good},not a secret!` }), /entry 2 of 2 is neither hex nor base64/);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_COOKIE_SECRET: `${good},` }), /entry 2 of 2 is neither hex nor base64/);
  assert.throws(() => loadHubConfig({ ...base, HOPGATE_DTLS_COOKIE_SECRET: '00'.repeat(32) }), /repeats one byte/);
});
