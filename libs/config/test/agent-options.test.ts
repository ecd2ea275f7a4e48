import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveAgentInvocation, type AgentConfig } from '../src/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-agent-options-'));
const tokenFile = path.join(tmp, 'token');
fs.writeFileSync(tokenFile, 'token-from-file\n');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BASE_FLAGS = ['--server', 'hub.example.com:443', '--client-id', 'laptop', '--token-file', tokenFile, '--service', 'web=127.0.0.1:8080'];

function run(argv: readonly string[], env: Record<string, string> = {}): AgentConfig {
  const invocation = resolveAgentInvocation(argv, env);
  assert.equal(invocation.kind, 'run');
  return (invocation as { kind: 'run'; config: AgentConfig }).config;
}

function writeYaml(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

test('agent flags alone: the one-liner of the README', () => {
  const cfg = run(BASE_FLAGS);
  assert.deepEqual(cfg.servers, [{ host: 'hub.example.com', port: 443 }]);
  assert.equal(cfg.clientId, 'laptop');
  assert.equal(cfg.token, 'token-from-file', 'the file is read and its trailing newline dropped');
  assert.deepEqual({ ...cfg.services }, { web: { host: '127.0.0.1', port: 8080 } });
  assert.equal(cfg.serverName, 'hub.example.com');
  assert.equal(cfg.logLevel, 'info');
  assert.equal(cfg.opsListen, undefined);
});

test('agent flags: repeated and comma-listed --server, repeated --service, NAME=PORT, --flag=value', () => {
  const cfg = run([
    '--server', 'a.example.com:443,b.example.com:443', '--server=c.example.com:8443',
    '--client-id=laptop', '--token', 'tok',
    '--service', 'web=127.0.0.1:8080', '--service', 'api=3000',
    '--instance-id', 'box-1', '--server-name', 'hub.example.com', '--ops-listen', ':9090', '--log-level', 'debug',
  ]);
  assert.deepEqual(cfg.servers.map((s) => `${s.host}:${s.port}`), ['a.example.com:443', 'b.example.com:443', 'c.example.com:8443']);
  assert.deepEqual({ ...cfg.services }, { web: { host: '127.0.0.1', port: 8080 }, api: { host: '127.0.0.1', port: 3000 } });
  assert.equal(cfg.token, 'tok');
  assert.equal(cfg.instanceId, 'box-1');
  assert.equal(cfg.serverName, 'hub.example.com');
  assert.deepEqual(cfg.opsListen, { host: '127.0.0.1', port: 9090 });
  assert.equal(cfg.logLevel, 'debug');
});

test('agent variables alone: HOPGATE_AGENT_*', () => {
  const cfg = run([], {
    HOPGATE_AGENT_SERVER: 'a.example.com:443,b.example.com:443',
    HOPGATE_AGENT_CLIENT_ID: 'laptop',
    HOPGATE_AGENT_TOKEN_FILE: tokenFile,
    HOPGATE_AGENT_SERVICES: 'web=127.0.0.1:8080, api=127.0.0.1:9000',
    HOPGATE_AGENT_SESSION_IDLE_TIMEOUT_MS: '7000',
    HOPGATE_AGENT_IDLE_TIMEOUT_MS: '1', // the hub's setting: not the agent's
    HOPGATE_AGENT_OPS_LISTEN: '0.0.0.0:9090',
  });
  assert.equal(cfg.servers.length, 2);
  assert.equal(cfg.token, 'token-from-file');
  assert.deepEqual(Object.keys(cfg.services), ['web', 'api']);
  assert.equal(cfg.idleTimeoutMs, 7000);
  assert.deepEqual(cfg.opsListen, { host: '0.0.0.0', port: 9090 });
});

test('agent precedence: flags > HOPGATE_AGENT_* > YAML file, key by key; lists replaced whole', () => {
  const file = writeYaml('agent.yaml', [
    'server: [file1.example.com:443, file2.example.com:443]',
    'client_id: from-file',
    'token: file-token',
    'services: { web: 127.0.0.1:1111, db: 127.0.0.1:2222 }',
    'server_name: file.example.com',
    'log_level: warn',
    'reconnect_max_ms: 5000',
    '',
  ].join('\n'));
  const fileOnly = run(['--config', file]);
  assert.equal(fileOnly.clientId, 'from-file');
  assert.equal(fileOnly.token, 'file-token');
  assert.equal(fileOnly.logLevel, 'warn');

  const env = { HOPGATE_AGENT_CONFIG: file, HOPGATE_AGENT_CLIENT_ID: 'from-env', HOPGATE_AGENT_SERVER_NAME: 'env.example.com', HOPGATE_AGENT_TOKEN_FILE: tokenFile };
  const withEnv = run([], env);
  assert.equal(withEnv.clientId, 'from-env');
  assert.equal(withEnv.serverName, 'env.example.com');
  assert.equal(withEnv.token, 'token-from-file', 'a token file at a higher level replaces the file\'s token');
  assert.equal(withEnv.reconnectMaxMs, 5000, 'keys no level above sets come from the file');
  assert.deepEqual(withEnv.servers.map((s) => s.host), ['file1.example.com', 'file2.example.com']);

  const withFlags = run(['--client-id', 'from-flag', '--service', 'only=127.0.0.1:3333', '--token', 'flag-token', '--server', 'flag.example.com:443'], env);
  assert.equal(withFlags.clientId, 'from-flag');
  assert.equal(withFlags.serverName, 'env.example.com');
  assert.equal(withFlags.token, 'flag-token');
  assert.deepEqual(Object.keys(withFlags.services), ['only'], '--service replaces the file\'s services');
  assert.deepEqual(withFlags.servers.map((s) => s.host), ['flag.example.com'], '--server replaces the file\'s list');
});

test('agent log level: --log-level > HOPGATE_AGENT_LOG_LEVEL > HOPGATE_LOG_LEVEL > log_level of the file', () => {
  const file = writeYaml('level.yaml', `server: h.example.com:443\nclient_id: c\ntoken: t\nservices: { web: "127.0.0.1:80" }\nlog_level: warn\n`);
  assert.equal(run(['-c', file]).logLevel, 'warn');
  assert.equal(run(['-c', file], { HOPGATE_LOG_LEVEL: 'error' }).logLevel, 'error');
  assert.equal(run(['-c', file], { HOPGATE_LOG_LEVEL: 'error', HOPGATE_AGENT_LOG_LEVEL: 'debug' }).logLevel, 'debug');
  assert.equal(run(['-c', file, '--log-level', 'trace'], { HOPGATE_LOG_LEVEL: 'error', HOPGATE_AGENT_LOG_LEVEL: 'debug' }).logLevel, 'trace');
  assert.throws(() => run(['-c', file, '--log-level', 'loud']), { code: 'ERR_BAD_CONFIG', message: /log level must be one of fatal, error/ });
});

test('agent ops listener: --ops-listen > HOPGATE_AGENT_OPS_LISTEN > HOPGATE_OPS_LISTEN (the images\' 0.0.0.0:9090) > ops_listen of the file', () => {
  const file = writeYaml('ops.yaml', `server: h.example.com:443\nclient_id: c\ntoken: t\nservices: { web: "127.0.0.1:80" }\nops_listen: ":7000"\n`);
  assert.deepEqual(run(['-c', file]).opsListen, { host: '127.0.0.1', port: 7000 });
  assert.deepEqual(run(['-c', file], { HOPGATE_OPS_LISTEN: '0.0.0.0:9090' }).opsListen, { host: '0.0.0.0', port: 9090 });
  assert.equal(run(['-c', file], { HOPGATE_OPS_LISTEN: '0.0.0.0:9090', HOPGATE_AGENT_OPS_LISTEN: 'off' }).opsListen, undefined);
  assert.equal(run(['-c', file, '--ops-listen', 'off'], { HOPGATE_OPS_LISTEN: '0.0.0.0:9090', HOPGATE_AGENT_OPS_LISTEN: ':9999' }).opsListen, undefined);
});

test('agent flags: --help, and usage errors with clear messages', () => {
  assert.deepEqual(resolveAgentInvocation(['--help'], {}), { kind: 'help' });
  assert.deepEqual(resolveAgentInvocation([...BASE_FLAGS, '-h'], {}), { kind: 'help' });
  const cases: [readonly string[], Record<string, string>, RegExp][] = [
    [[...BASE_FLAGS, '--bogus'], {}, /^unknown flag --bogus$/],
    [[...BASE_FLAGS, '-x'], {}, /^unknown flag -x$/],
    [[...BASE_FLAGS, 'web=127.0.0.1:80'], {}, /^unexpected argument "web=127\.0\.0\.1:80"/],
    [['--client-id'], {}, /^--client-id needs a value$/],
    [['--client-id', '--server', 'a:1'], {}, /^--client-id needs a value$/],
    [[...BASE_FLAGS, '--client-id', 'again'], {}, /^--client-id is given twice$/],
    [['--help=yes'], {}, /^--help takes no value$/],
    [[], {}, /^missing --server, --client-id, --token-file \(or --token\), --service/],
    [['--server', 'a.example.com:443', '--client-id', 'c', '--token', 't'], {}, /^missing --service /],
    [[...BASE_FLAGS, '--token', 'tok'], {}, /^flags: give either --token or --token-file, not both$/],
    [BASE_FLAGS, { HOPGATE_AGENT_TOKEN: 'a', HOPGATE_AGENT_TOKEN_FILE: tokenFile }, /^environment: give either HOPGATE_AGENT_TOKEN or HOPGATE_AGENT_TOKEN_FILE/],
    [['--server', 'a.example.com:443', '--client-id', 'c', '--token-file', path.join(tmp, 'missing'), '--service', 'web=80'], {}, /^cannot read the token file .*missing \(ENOENT\)$/],
    [['--server', 'a.example.com:443', '--client-id', 'c', '--token-file', writeYaml('empty-token', '\n'), '--service', 'web=80'], {}, /^token file .* is empty$/],
    [[...BASE_FLAGS, '--service', 'web=127.0.0.1:9090'], {}, /^--service: service "web" is given twice$/],
    [['--server', 'a.example.com:443', '--client-id', 'c', '--token', 't', '--service', 'web'], {}, /^--service: expected NAME=HOST:PORT, got "web"$/],
    [['--server', 'a.example.com:443', '--client-id', 'c', '--token', 't', '--service', 'bad name=80'], {}, /service name "bad name" must match/],
    [['--server', 'nohost', '--client-id', 'c', '--token', 't', '--service', 'web=80'], {}, /expected host:port, got "nohost"/],
    [['--client-id', 'c', '--token', 't', '--service', 'web=80'], { HOPGATE_AGENT_SERVICES: 'web' }, /^HOPGATE_AGENT_SERVICES: expected NAME=HOST:PORT/],
    [BASE_FLAGS, { HOPGATE_AGENT_SESSION_IDLE_TIMEOUT_MS: 'soon' }, /"idle_timeout_ms" must be a non-negative integer/],
    [['--config', path.join(tmp, 'nope.yaml')], {}, /cannot read config file .*nope\.yaml/],
  ];
  for (const [argv, env, message] of cases) {
    assert.throws(() => resolveAgentInvocation(argv, env), { code: 'ERR_BAD_CONFIG', message }, `${JSON.stringify(argv)} ${JSON.stringify(env)}`);
  }
});

test('agent config file: keeps working as before, token_file accepted there too', () => {
  const file = writeYaml('tf.yaml', `server: h.example.com:443\nclient_id: c\ntoken_file: ${tokenFile}\nservices:\n  web: 127.0.0.1:80\n`);
  assert.equal(run(['--config', file]).token, 'token-from-file');
  const both = writeYaml('both.yaml', `server: h.example.com:443\nclient_id: c\ntoken: t\ntoken_file: ${tokenFile}\nservices:\n  web: 127.0.0.1:80\n`);
  assert.throws(() => run(['--config', both]), { code: 'ERR_BAD_CONFIG', message: /give either token or token_file/ });
  assert.throws(() => run(['--config', both, '--token', 'flag']), { code: 'ERR_BAD_CONFIG' }, 'a file that says both is wrong whatever overrides it');
});
