import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRedis, startNats, type RunningServer, type NatsServerOptions, type RedisServerOptions } from './servers.js';
import { freeTcpPort, freeUdpPort, tcpOpen } from './ports.js';
import { createDevCa, type DevCa, type DevCertificate } from './certs.js';
import { ManagedProcess } from './managed-process.js';
import { waitFor } from './wait.js';


/** The repository root (this file is libs/testkit/dist/src/stack.js). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export function serviceMain(name: 'https-ingress' | 'dtls-hub' | 'agent' | 'cli' | 'cert-manager'): string {
  return path.join(REPO_ROOT, 'services', name, 'dist', 'main.js');
}

export interface StackOptions {
  /** Working folder for certificates, configs and logs. */
  dir: string;
  /** Number of dtls-hub nodes (default 1). */
  hubs?: number;
  /** Names on the ingress certificate (default: localhost names used by tests and the demo). */
  ingressNames?: string[];
  /** Extra env for the ingress. */
  ingressEnv?: Record<string, string>;
  /**
   * Give the ingress the dev-CA file certificate (HOPGATE_TLS_CERT_FILE/KEY_FILE) as its
   * default (default true). False: certificates come from Redis only.
   */
  ingressFileCert?: boolean;
  /**
   * Give hubs the dev-CA file certificate (HOPGATE_DTLS_CERT_FILE/KEY_FILE) (default true).
   * False: hubs need HOPGATE_HUB_NAME in `hubEnv` and take their certificate from Redis.
   */
  hubFileCert?: boolean;
  /** Extra env for hubs. */
  hubEnv?: Record<string, string>;
  /** Fixed ports (0 or absent = random). */
  httpsPort?: number;
  httpPort?: number;
  dtlsPorts?: number[];
  /** Redis keyspace notifications for instant route updates (default 'Kgh'... see docs). */
  redisNotifyKeyspaceEvents?: string;
  logLevel?: string;
  /** Extra node arguments for every service process (e.g. `--cpu-prof` for profiling). */
  nodeArgs?: string[];
  /** Log level of the ingress alone (default: logLevel). `warn` drops the per-request access log. */
  ingressLogLevel?: string;
  /**
   * Text of the nats-server config file (users and their permissions, e.g. deploy/nats/hopgate-nats.conf
   * with its placeholders filled). Default: none, anyone may publish and subscribe anything.
   */
  natsConfig?: string;
  /** Environment of nats-server (the config's `$NAME` variables: passwords). */
  natsEnv?: Record<string, string>;
  /** Text of the Redis ACL file (`--aclfile`, e.g. deploy/redis/users.acl filled). Default: none (the `default` user, no password). */
  redisAcl?: string;
  /**
   * Serve NATS (`tls://`) and Redis (`rediss://`) over TLS with certificates of the stack's dev
   * CA; services get HOPGATE_NATS_CA_FILE and HOPGATE_REDIS_CA_FILE. Default false.
   */
  busTls?: boolean;
  /** How each service logs in to Redis and NATS (default: no credentials). */
  logins?: StackLogins;
  /** Redis keeps its data in `<dir>/redis-data` with the append-only file, so restartRedis() finds it again (default false). */
  redisPersistent?: boolean;
  /**
   * Redis settings of every service and the CLI instead of the stack's own server (e.g.
   * HOPGATE_REDIS_URL + HOPGATE_REDIS_SENTINELS of a startRedisSentinelSet()). The stack's
   * own redis-server still runs, unused.
   */
  redisEnv?: Record<string, string>;
}

/** A user and its password. */
export interface Login {
  user: string;
  password: string;
}

/** How one service logs in: a Redis ACL user (in HOPGATE_REDIS_URL), a NATS user (HOPGATE_NATS_USER / HOPGATE_NATS_PASSWORD). */
export interface BusLogin {
  redis?: Login;
  nats?: Login;
}

export interface StackLogins {
  ingress?: BusLogin;
  /** One login for every hub, or one per hub index. */
  hub?: BusLogin | ((index: number) => BusLogin);
  certManager?: BusLogin;
  /** The `hopgate` CLI (Stack.cli, addClient, setRoute): an operator. */
  cli?: BusLogin;
}

/** An ingress process besides the stack's own (startIngressReplica): its id and ports. */
export interface IngressNode {
  id: string;
  httpsPort: number;
  httpPort: number;
  process: ManagedProcess;
}

export interface HubNode {
  id: string;
  port: number;
  process: ManagedProcess;
}

export interface AgentOptions {
  clientId: string;
  token: string;
  services: Record<string, string>;
  /** Which hub to dial (default 0). */
  hub?: number;
  /** Dial this UDP port on 127.0.0.1 instead of the hub's own (a UdpLossProxy in front of it). */
  serverPort?: number;
  /** PEM file to trust (default: the stack's dev CA). */
  caFile?: string;
  serverName?: string;
  /** Wait for the agent to be online (default true). */
  waitOnline?: boolean;
  extra?: Record<string, unknown>;
  /**
   * How the agent gets its settings: `config-file` (default) writes agent-N.json and passes
   * `--config`; `flags` runs the `hopgate-agent` bin with flags alone (the token in a file,
   * `--token-file`) and `extra` as `HOPGATE_AGENT_<KEY>` variables.
   */
  launch?: 'config-file' | 'flags';
}

/**
 * The agent's variable for a config key, as AGENT_ENV_VARIABLES in libs/config names it (not
 * imported: config's tests depend on the testkit). `idle_timeout_ms` is the one exception.
 */
function agentVariable(key: string): string {
  return key === 'idle_timeout_ms' ? 'HOPGATE_AGENT_SESSION_IDLE_TIMEOUT_MS' : `HOPGATE_AGENT_${key.toUpperCase()}`;
}

/** The agent's bin as npm links it (`hopgate-agent`): a launcher of dist/main.js. */
export const AGENT_BIN = path.join(REPO_ROOT, 'services', 'agent', 'bin', 'hopgate-agent.mjs');

/** Hub certificate names: the agent verifies `hub.hopgate.test`. */
export const HUB_SERVER_NAME = 'hub.hopgate.test';

/**
 * The whole product on one machine, as real processes: redis-server, nats-server,
 * one https-ingress, N dtls-hubs, and agents on demand. Used by the e2e tests, the demo
 * and the benchmark.
 */
export class Stack {
  readonly hubs: HubNode[] = [];
  readonly agents: ManagedProcess[] = [];
  /** cert-manager replicas started with `startCertManager`, in start order. */
  readonly certManagers: ManagedProcess[] = [];
  /** Ingress processes started with `startIngressReplica`, in start order. */
  readonly ingressReplicas: IngressNode[] = [];
  ingress!: ManagedProcess;
  redis!: RunningServer;
  nats!: RunningServer;
  ca!: DevCa;
  ingressCert!: DevCertificate;
  hubCert!: DevCertificate;
  httpsPort = 0;
  httpPort = 0;
  private agentSeq = 0;

  private constructor(readonly options: StackOptions) {}

  get dir(): string {
    return this.options.dir;
  }

  get logDir(): string {
    return path.join(this.options.dir, 'logs');
  }

  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options);
    try {
      await stack.boot();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /**
   * The Redis and NATS settings of a service that logs in as `login` (default: no
   * credentials): HOPGATE_REDIS_URL (with the ACL user), HOPGATE_NATS_URL, HOPGATE_NATS_USER /
   * HOPGATE_NATS_PASSWORD, the CA files when the bus uses TLS; and the log level.
   */
  commonEnv(login: BusLogin = {}): Record<string, string> {
    const env: Record<string, string> = {
      HOPGATE_REDIS_URL: this.redisUrlAs(login.redis),
      HOPGATE_NATS_URL: this.nats.url,
      HOPGATE_LOG_LEVEL: this.options.logLevel ?? 'info',
      // Every service's ops listener on a free loopback port (logged as `ops listening`), never the shared 9090.
      HOPGATE_OPS_LISTEN: '127.0.0.1:0',
    };
    if (login.nats) {
      env['HOPGATE_NATS_USER'] = login.nats.user;
      env['HOPGATE_NATS_PASSWORD'] = login.nats.password;
    }
    if (this.options.busTls) {
      env['HOPGATE_REDIS_CA_FILE'] = this.ca.certFile;
      env['HOPGATE_NATS_CA_FILE'] = this.ca.certFile;
    }
    return { ...env, ...(this.options.redisEnv ?? {}) };
  }

  /** The stack's Redis URL with `login`'s user and password in it (percent-encoded). */
  redisUrlAs(login: Login | undefined): string {
    if (!login) return this.redis.url;
    const url = new URL(this.redis.url);
    url.username = encodeURIComponent(login.user);
    url.password = encodeURIComponent(login.password);
    return url.toString();
  }

  private hubLogin(index: number): BusLogin {
    const hub = this.options.logins?.hub;
    return typeof hub === 'function' ? hub(index) : (hub ?? {});
  }

  private natsServerOptions(port?: number): NatsServerOptions {
    return {
      port,
      config: this.options.natsConfig,
      env: this.options.natsEnv,
      tls: this.options.busTls ? this.busCert : undefined,
      logFile: path.join(this.logDir, 'nats-server.log'),
    };
  }

  /** Certificate of the TLS listeners of Redis and NATS (busTls). */
  private busCert: DevCertificate | undefined;
  /** How redis-server was started (restartRedis starts it the same way, on the same port). */
  private redisServerOptions: RedisServerOptions = {};

  private async boot(): Promise<void> {
    fs.mkdirSync(this.logDir, { recursive: true });
    this.ca = createDevCa(path.join(this.dir, 'pki'));
    if (this.options.busTls) this.busCert = this.ca.issue('bus', ['localhost', '127.0.0.1']);
    let aclFile: string | undefined;
    if (this.options.redisAcl !== undefined) {
      aclFile = path.join(this.dir, 'redis-users.acl');
      fs.writeFileSync(aclFile, this.options.redisAcl, { mode: 0o600 });
    }
    this.redisServerOptions = {
      notifyKeyspaceEvents: this.options.redisNotifyKeyspaceEvents ?? 'Kgh',
      aclFile,
      tls: this.busCert,
      logFile: path.join(this.logDir, 'redis-server.log'),
      dataDir: this.options.redisPersistent === true ? path.join(this.dir, 'redis-data') : undefined,
    };
    if (this.redisServerOptions.dataDir !== undefined) fs.mkdirSync(this.redisServerOptions.dataDir, { recursive: true });
    this.redis = await startRedis(this.redisServerOptions);
    this.nats = await startNats(this.natsServerOptions());
    this.ingressCert = this.ca.issue('ingress', this.options.ingressNames ?? ['localhost', '*.localhost', 'demo.localhost', '*.hopgate.test', '127.0.0.1']);
    this.hubCert = this.ca.issue('hub', [HUB_SERVER_NAME, 'localhost', '127.0.0.1']);
    const hubCount = this.options.hubs ?? 1;
    for (let i = 0; i < hubCount; i++) await this.startHub(i);
    await this.startIngress();
  }

  async startIngress(): Promise<void> {
    this.httpsPort = this.options.httpsPort || this.httpsPort || (await freeTcpPort());
    this.httpPort = this.options.httpPort || this.httpPort || (await freeTcpPort());
    const proc = new ManagedProcess(
      'https-ingress',
      process.execPath,
      [...(this.options.nodeArgs ?? []), serviceMain('https-ingress')],
      {
        ...this.commonEnv(this.options.logins?.ingress),
        HOPGATE_HTTPS_LISTEN: `127.0.0.1:${this.httpsPort}`,
        HOPGATE_HTTP_LISTEN: `127.0.0.1:${this.httpPort}`,
        ...(this.options.ingressFileCert === false ? {} : { HOPGATE_TLS_CERT_FILE: this.ingressCert.certFile, HOPGATE_TLS_KEY_FILE: this.ingressCert.keyFile }),
        HOPGATE_INGRESS_ID: 'ingress-1',
        HOPGATE_LOG_LEVEL: this.options.ingressLogLevel ?? this.options.logLevel ?? 'info',
        ...(this.options.ingressEnv ?? {}),
      },
      path.join(this.logDir, 'https-ingress.log'),
    );
    this.ingress = proc;
    // Ready when the HTTPS port answers (whatever the log level).
    await waitFor('https-ingress listening', async () => {
      if (proc.exited) throw new Error(`https-ingress exited: ${proc.stderr.slice(-500)}`);
      return tcpOpen(this.httpsPort);
    }, 15_000);
  }

  /**
   * Starts one more https-ingress against this stack's Redis and NATS, as `startIngress` does
   * (file certificate unless ingressFileCert is false, ingressEnv) but with its own id and free
   * ports, `env` on top. Resolves once its HTTPS port accepts.
   */
  async startIngressReplica(id: string, env: Record<string, string> = {}): Promise<IngressNode> {
    const httpsPort = await freeTcpPort();
    const httpPort = await freeTcpPort();
    const proc = new ManagedProcess(
      id,
      process.execPath,
      [...(this.options.nodeArgs ?? []), serviceMain('https-ingress')],
      {
        ...this.commonEnv(this.options.logins?.ingress),
        HOPGATE_HTTPS_LISTEN: `127.0.0.1:${httpsPort}`,
        HOPGATE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
        ...(this.options.ingressFileCert === false ? {} : { HOPGATE_TLS_CERT_FILE: this.ingressCert.certFile, HOPGATE_TLS_KEY_FILE: this.ingressCert.keyFile }),
        HOPGATE_INGRESS_ID: id,
        HOPGATE_LOG_LEVEL: this.options.ingressLogLevel ?? this.options.logLevel ?? 'info',
        ...(this.options.ingressEnv ?? {}),
        ...env,
      },
      path.join(this.logDir, `${id}.log`),
    );
    const node = { id, httpsPort, httpPort, process: proc };
    this.ingressReplicas.push(node);
    await waitFor(`${id} listening`, async () => {
      if (proc.exited) throw new Error(`${id} exited: ${proc.stderr.slice(-500)}`);
      return tcpOpen(httpsPort);
    }, 15_000);
    return node;
  }

  /** Starts (or restarts) hub number `index` on its port. */
  async startHub(index: number): Promise<HubNode> {
    const id = `hub-${index + 1}`;
    const existing = this.hubs[index];
    const port = existing?.port ?? this.options.dtlsPorts?.[index] ?? (await freeUdpPort());
    const proc = new ManagedProcess(
      id,
      process.execPath,
      [...(this.options.nodeArgs ?? []), serviceMain('dtls-hub')],
      {
        ...this.commonEnv(this.hubLogin(index)),
        HOPGATE_HUB_ID: id,
        HOPGATE_DTLS_LISTEN: `127.0.0.1:${port}`,
        ...(this.options.hubFileCert === false ? {} : { HOPGATE_DTLS_CERT_FILE: this.hubCert.certFile, HOPGATE_DTLS_KEY_FILE: this.hubCert.keyFile }),
        HOPGATE_AGENT_IDLE_TIMEOUT_MS: '3000',
        HOPGATE_SESSION_TTL_MS: '3000',
        ...(this.options.hubEnv ?? {}),
      },
      path.join(this.logDir, `${id}.log`),
    );
    const node = { id, port, process: proc };
    this.hubs[index] = node;
    await proc.waitForLog('dtls-hub listening', (r) => r.msg === 'dtls-hub listening');
    return node;
  }

  /** Kills nats-server (SIGKILL), as a crash would. */
  async killNats(): Promise<void> {
    this.nats.process.kill('SIGKILL');
    await waitFor('nats-server gone', () => this.nats.process.exitCode !== null || this.nats.process.signalCode !== null, 5_000);
  }

  /** Starts nats-server again on the same port (services reconnect by themselves). */
  async restartNats(): Promise<void> {
    await this.nats.stop();
    this.nats = await startNats(this.natsServerOptions(this.nats.port));
  }

  /** Stops redis-server (SIGTERM: with redisPersistent, the append-only file is complete). */
  async stopRedis(): Promise<void> {
    await this.redis.stop();
  }

  /** Starts redis-server again on the same port, with the same data folder when redisPersistent (services reconnect by themselves). */
  async startRedisAgain(): Promise<void> {
    this.redis = await startRedis({ ...this.redisServerOptions, port: this.redis.port });
  }

  /** Runs the `hopgate` CLI against this stack's Redis. */
  cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [serviceMain('cli'), ...args], { env: { ...process.env, ...this.commonEnv(this.options.logins?.cli) } }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** `hopgate client add <id>`; returns the token it printed. */
  async addClient(clientId: string): Promise<string> {
    const res = await this.cli(['client', 'add', clientId]);
    if (res.code !== 0) throw new Error(`hopgate client add failed: ${res.stderr}`);
    const token = res.stdout.trim().split(/\s+/).pop();
    if (!token) throw new Error(`no token in: ${res.stdout}`);
    return token;
  }

  async setRoute(host: string, prefix: string, target: string): Promise<void> {
    const res = await this.cli(['route', 'set', host, prefix, target]);
    if (res.code !== 0) throw new Error(`hopgate route set failed: ${res.stderr}`);
  }

  /**
   * Starts one cert-manager replica against this stack's Redis and NATS (logs in
   * `logDir/cert-manager-<n>.log`). `env` adds or overrides variables: at least
   * HOPGATE_ACME_DIRECTORY (and HOPGATE_ACME_CA_FILE for pebble). Resolves once it logged
   * `cert-manager started` (unless `waitStarted` is false).
   */
  async startCertManager(env: Record<string, string>, options: { waitStarted?: boolean } = {}): Promise<ManagedProcess> {
    const n = this.certManagers.length + 1;
    const proc = new ManagedProcess(
      `cert-manager-${n}`,
      process.execPath,
      [...(this.options.nodeArgs ?? []), serviceMain('cert-manager')],
      { ...this.commonEnv(this.options.logins?.certManager), ...env },
      path.join(this.logDir, `cert-manager-${n}.log`),
    );
    this.certManagers.push(proc);
    if (options.waitStarted ?? true) await proc.waitForLog('started', (r) => r.msg === 'cert-manager started');
    return proc;
  }

  async startAgent(options: AgentOptions): Promise<ManagedProcess> {
    const n = ++this.agentSeq;
    const hub = this.hubs[options.hub ?? 0];
    if (!hub) throw new Error(`no hub ${options.hub}`);
    const config = {
      server: `127.0.0.1:${options.serverPort ?? hub.port}`,
      client_id: options.clientId,
      token: options.token,
      services: options.services,
      ca_file: options.caFile ?? this.ca.certFile,
      server_name: options.serverName ?? HUB_SERVER_NAME,
      reconnect_min_ms: 100,
      reconnect_max_ms: 2000,
      idle_timeout_ms: 3000,
      ...(options.extra ?? {}),
    };
    const env: Record<string, string> = { HOPGATE_LOG_LEVEL: this.options.logLevel ?? 'info' };
    let args: string[];
    if (options.launch === 'flags') {
      const tokenFile = path.join(this.dir, `agent-${n}.token`);
      fs.writeFileSync(tokenFile, `${options.token}\n`, { mode: 0o600 });
      args = [AGENT_BIN, '--server', config.server, '--client-id', config.client_id, '--token-file', tokenFile, '--ca-file', config.ca_file, '--server-name', config.server_name];
      for (const [name, target] of Object.entries(config.services)) args.push('--service', `${name}=${target}`);
      for (const [key, value] of Object.entries(config)) {
        if (['server', 'client_id', 'token', 'services', 'ca_file', 'server_name'].includes(key)) continue;
        env[agentVariable(key)] = String(value);
      }
    } else {
      const file = path.join(this.dir, `agent-${n}.json`);
      fs.writeFileSync(file, JSON.stringify(config, null, 2));
      args = [serviceMain('agent'), '--config', file];
    }
    const proc = new ManagedProcess(`agent-${n}`, process.execPath, [...(this.options.nodeArgs ?? []), ...args], env, path.join(this.logDir, `agent-${n}.log`));
    this.agents.push(proc);
    if (options.waitOnline ?? true) await proc.waitForLog('online', (r) => r.msg === 'online: session established');
    return proc;
  }

  /** Every service process started so far: ingress, hubs, agents, cert-managers. */
  processes(): ManagedProcess[] {
    return [...(this.ingress ? [this.ingress] : []), ...this.ingressReplicas.map((i) => i.process), ...this.hubs.map((h) => h.process), ...this.agents, ...this.certManagers];
  }

  /**
   * What a crash leaves behind, one line each: a service process that exited, and every
   * `fatal` log record or record whose message says `crashed` (the services' last-resort
   * handlers log both). Empty while everything runs.
   */
  crashSigns(): string[] {
    const signs: string[] = [];
    for (const proc of this.processes()) {
      if (proc.exited) signs.push(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}): ${proc.stderr.slice(-300)}`);
      for (const r of proc.records) {
        if (r.level === 'fatal' || String(r.msg ?? '').includes('crashed')) signs.push(`${proc.name} logged: ${JSON.stringify(r).slice(0, 1_000)}`);
      }
    }
    return signs;
  }

  async stop(): Promise<void> {
    const procs = [...this.agents, ...this.certManagers, ...(this.ingress ? [this.ingress] : []), ...this.ingressReplicas.map((i) => i.process), ...this.hubs.map((h) => h.process)];
    await Promise.all(procs.map((p) => p.stop(2_000).catch(() => undefined)));
    await this.nats?.stop().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
  }
}
