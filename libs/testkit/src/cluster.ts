import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startRedis, type RunningServer } from './servers.js';
import { freeTcpPort, freeUdpPort, tcpOpen } from './ports.js';
import { createDevCa, type DevCa, type DevCertificate } from './certs.js';
import { ManagedProcess } from './managed-process.js';
import { waitFor } from './wait.js';
import { serviceMain, HUB_SERVER_NAME } from './stack.js';
import { NatsCluster } from './nats-cluster.js';
import { TcpBalancer } from './tcp-balancer.js';
import { LoadGenerator, type LoadGeneratorOptions } from './load-generator.js';
import { startNamedOrigin, type NamedOrigin } from './named-origin.js';
import { redisCommand } from './redis-command.js';

/** Defaults of a Cluster: the shape issue 10 asks the failover tests for. */
export const DEFAULT_CLUSTER_INGRESSES = 3;
export const DEFAULT_CLUSTER_HUBS = 3;
export const DEFAULT_CLUSTER_NATS_NODES = 3;
export const DEFAULT_CLUSTER_AGENTS = 6;
/** Longest wait for a service process to be up (listening, or its agent online), in ms. */
export const CLUSTER_START_TIMEOUT_MS = 20_000;
/** Grace of a SIGTERMed service in `stop()` before SIGKILL, in ms (drains may take their time). */
export const CLUSTER_STOP_GRACE_MS = 30_000;
/** Parent domain of the agents' route hosts (the ingress certificate covers `*.hopgate.test`). */
export const CLUSTER_DOMAIN = 'hopgate.test';

/** The kinds of part a Cluster can kill, stop and restart by index. */
export type ClusterPart = 'ingress' | 'hub' | 'agent' | 'nats';

export interface ClusterIngress {
  readonly index: number;
  /** HOPGATE_INGRESS_ID: `ingress-<index + 1>`; its NATS connection is named `https-ingress-<id>`. */
  readonly id: string;
  readonly httpsPort: number;
  readonly httpPort: number;
  process: ManagedProcess;
}

export interface ClusterHub {
  readonly index: number;
  /** HOPGATE_HUB_ID: `hub-<index + 1>`; its NATS connection is named `dtls-hub-<id>`. */
  readonly id: string;
  /** Its DTLS port on 127.0.0.1. */
  readonly port: number;
  process: ManagedProcess;
}

export interface ClusterAgent {
  readonly index: number;
  /** `agent-<index + 1>`: the client id, the origin's name and the first label of its host. */
  readonly name: string;
  readonly clientId: string;
  readonly token: string;
  /** Route host: `<name>.hopgate.test` -> `<clientId>/web`. */
  readonly host: string;
  /** The hub it was assigned (`agentHub`). */
  readonly hub: number;
  /** Its `server` config value. */
  readonly server: string;
  readonly configFile: string;
  readonly origin: NamedOrigin;
  process: ManagedProcess;
}

export interface ClusterOptions {
  /** Working folder: certificates, configs, logs (`logs/`). */
  dir: string;
  ingresses?: number;
  hubs?: number;
  natsNodes?: number;
  agents?: number;
  /** Hub of agent `index` (default `index % hubs`: agents spread evenly). */
  agentHub?: (index: number, hubs: number) => number;
  /**
   * The agent's `server` config value (default `127.0.0.1:<port of its hub>`). For hub lists:
   * `(i, c) => c.hubs.map((h) => c.hubAddress(h.index)).join(',')`.
   */
  agentServer?: (index: number, cluster: Cluster) => string;
  /** Extra agent config keys (every agent). */
  agentExtra?: Record<string, unknown>;
  ingressEnv?: Record<string, string>;
  hubEnv?: Record<string, string>;
  /** Default `info`. */
  logLevel?: string;
  /** Default: `warn` (no access log per request: the load generator makes thousands). */
  ingressLogLevel?: string;
}

/**
 * The product as a cluster on one machine, every part a real process: a 3-node nats-server
 * cluster, Redis, N https-ingress replicas behind a round-robin TcpBalancer, M dtls-hubs, and
 * agents (each with its own client id, route `<name>.hopgate.test` and origin that answers its
 * name). Any part can be killed (SIGKILL), stopped (SIGTERM) and restarted by index on the same
 * ports; `load()` puts continuous keep-alive traffic through the balancer.
 *
 * Each service gets every NATS node in HOPGATE_NATS_URL, the list rotated by the service's
 * position (ingresses first, then hubs) so that lists differ; nats.js shuffles the list anyway
 * (its default, `noRandomize: false`), so `natsNodeOf` asks nats-server's /connz where a
 * service really is.
 */
export class Cluster {
  readonly ingresses: ClusterIngress[] = [];
  readonly hubs: ClusterHub[] = [];
  readonly agents: ClusterAgent[] = [];
  nats!: NatsCluster;
  redis!: RunningServer;
  balancer!: TcpBalancer;
  ca!: DevCa;
  ingressCert!: DevCertificate;
  hubCert!: DevCertificate;

  private constructor(readonly options: ClusterOptions) {}

  get dir(): string {
    return this.options.dir;
  }

  get logDir(): string {
    return path.join(this.options.dir, 'logs');
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    try {
      await cluster.boot();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** `https://127.0.0.1:<balancer port>`: where browsers (and the load) connect. */
  get url(): string {
    return `https://127.0.0.1:${this.balancer.port}`;
  }

  /** `https://127.0.0.1:<port>` of ingress `index` itself (not through the balancer). */
  ingressUrl(index: number): string {
    return `https://127.0.0.1:${this.part(this.ingresses, index, 'ingress').httpsPort}`;
  }

  /** `127.0.0.1:<port>` of hub `index` (an agent's `server`). */
  hubAddress(index: number): string {
    return `127.0.0.1:${this.part(this.hubs, index, 'hub').port}`;
  }

  /** The dev CA's certificate (PEM text): ingresses and hubs chain to it. */
  caPem(): string {
    return fs.readFileSync(this.ca.certFile, 'utf8');
  }

  /** Redis and NATS settings and the log level of a service; `rotate` picks the NATS node named first. */
  commonEnv(rotate: number): Record<string, string> {
    return {
      HOPGATE_REDIS_URL: this.redis.url,
      HOPGATE_NATS_URL: this.nats.urlList(rotate),
      HOPGATE_LOG_LEVEL: this.options.logLevel ?? 'info',
      // The ops listener (health, readiness) of each service on a free loopback port, never a shared 9090.
      HOPGATE_OPS_LISTEN: '127.0.0.1:0',
    };
  }

  /** The NATS connection name of a service (`https-ingress-ingress-1`, `dtls-hub-hub-2`). */
  natsConnectionName(part: 'ingress' | 'hub', index: number): string {
    return part === 'ingress' ? `https-ingress-${this.part(this.ingresses, index, 'ingress').id}` : `dtls-hub-${this.part(this.hubs, index, 'hub').id}`;
  }

  /** Index of the NATS node ingress or hub `index` is connected to now (from /connz), undefined while it is not. */
  natsNodeOf(part: 'ingress' | 'hub', index: number): Promise<number | undefined> {
    return this.nats.nodeOf(this.natsConnectionName(part, index));
  }

  /** Kills part `index` with SIGKILL (a crash, an OOM kill, a lost machine). */
  async kill9(part: ClusterPart, index: number): Promise<void> {
    if (part === 'nats') return this.nats.kill9(index);
    await this.processOf(part, index).kill();
  }

  /**
   * Stops part `index` with SIGTERM (what Kubernetes does), SIGKILL after `graceMs`. Without
   * arguments: stops the whole cluster (balancer, services, origins, NATS, Redis).
   */
  async stop(part?: ClusterPart, index?: number, graceMs = CLUSTER_STOP_GRACE_MS): Promise<void> {
    if (part === undefined) return this.stopAll();
    if (index === undefined) throw new Error('stop(part, index): index missing');
    if (part === 'nats') return this.nats.stopNode(index);
    await this.processOf(part, index).stop(graceMs);
  }

  /**
   * Starts part `index` again with the same ports and config (stopping it first if it runs);
   * resolves once it listens (ingress, hub), is online (agent) or has its routes (NATS).
   */
  async restart(part: ClusterPart, index: number): Promise<void> {
    if (part === 'nats') return this.nats.restart(index);
    const proc = this.processOf(part, index);
    if (!proc.exited) await proc.stop(CLUSTER_STOP_GRACE_MS);
    switch (part) {
      case 'ingress':
        await this.startIngress(index);
        return;
      case 'hub':
        await this.startHub(index);
        return;
      case 'agent': {
        const agent = this.part(this.agents, index, 'agent');
        agent.process = this.spawnAgent(agent.name, agent.configFile);
        await this.waitOnline(agent);
        return;
      }
    }
  }

  /** Whether part `index` runs now. */
  running(part: ClusterPart, index: number): boolean {
    if (part === 'nats') return this.nats.running(index);
    return !this.processOf(part, index).exited;
  }

  /** Continuous load through the balancer, one target per agent (its host, its name as the expected body). */
  load(options: Partial<Omit<LoadGeneratorOptions, 'origin' | 'ca' | 'targets'>> = {}): LoadGenerator {
    return new LoadGenerator({
      origin: this.url,
      ca: this.caPem(),
      targets: this.agents.map((a) => ({ name: a.name, host: a.host, expectBody: a.origin.body })),
      ...options,
    });
  }

  /** `HSET hopgate:route:<host> <prefix> <target>` straight to Redis (what an operator's redis-cli does). */
  async setRoute(host: string, prefix: string, target: string): Promise<void> {
    await redisCommand(this.redis.port, ['HSET', `hopgate:route:${host}`, prefix, target]);
  }

  async deleteRoute(host: string): Promise<void> {
    await redisCommand(this.redis.port, ['DEL', `hopgate:route:${host}`]);
  }

  /** Every service process: ingresses, hubs, agents. */
  processes(): ManagedProcess[] {
    return [...this.ingresses.map((i) => i.process), ...this.hubs.map((h) => h.process), ...this.agents.map((a) => a.process)];
  }

  /** `fatal` records and records saying `crashed`, one line each (a killed process is not a crash sign here). */
  crashSigns(): string[] {
    const signs: string[] = [];
    for (const proc of this.processes()) {
      for (const r of proc.records) {
        if (r.level === 'fatal' || String(r.msg ?? '').includes('crashed')) signs.push(`${proc.name} logged: ${JSON.stringify(r).slice(0, 1_000)}`);
      }
    }
    return signs;
  }

  private async stopAll(): Promise<void> {
    await this.balancer?.close().catch(() => undefined);
    const procs = this.processes();
    await Promise.all(procs.map((p) => p.stop(2_000).catch(() => undefined)));
    await Promise.all(this.agents.map((a) => a.origin.close().catch(() => undefined)));
    await this.nats?.stop().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
  }

  private part<T>(list: readonly T[], index: number, what: string): T {
    const item = list[index];
    if (item === undefined) throw new Error(`no ${what} ${index}`);
    return item;
  }

  private processOf(part: Exclude<ClusterPart, 'nats'>, index: number): ManagedProcess {
    switch (part) {
      case 'ingress':
        return this.part(this.ingresses, index, 'ingress').process;
      case 'hub':
        return this.part(this.hubs, index, 'hub').process;
      case 'agent':
        return this.part(this.agents, index, 'agent').process;
    }
  }

  private async boot(): Promise<void> {
    fs.mkdirSync(this.logDir, { recursive: true });
    this.ca = createDevCa(path.join(this.dir, 'pki'));
    this.ingressCert = this.ca.issue('ingress', ['localhost', `*.${CLUSTER_DOMAIN}`, '127.0.0.1']);
    this.hubCert = this.ca.issue('hub', [HUB_SERVER_NAME, 'localhost', '127.0.0.1']);
    this.redis = await startRedis({ notifyKeyspaceEvents: 'Kgh', logFile: path.join(this.logDir, 'redis-server.log') });
    this.nats = await NatsCluster.start({ dir: path.join(this.dir, 'nats'), nodes: this.options.natsNodes ?? DEFAULT_CLUSTER_NATS_NODES });
    const hubCount = this.options.hubs ?? DEFAULT_CLUSTER_HUBS;
    const ingressCount = this.options.ingresses ?? DEFAULT_CLUSTER_INGRESSES;
    await Promise.all(Array.from({ length: hubCount }, (_, i) => this.startHub(i)));
    await Promise.all(Array.from({ length: ingressCount }, (_, i) => this.startIngress(i)));
    this.balancer = new TcpBalancer(this.ingresses.map((i) => i.httpsPort));
    await this.balancer.listen();
    const agentCount = this.options.agents ?? DEFAULT_CLUSTER_AGENTS;
    const agents: Promise<void>[] = [];
    for (let i = 0; i < agentCount; i++) agents.push(this.addAgent(i));
    await Promise.all(agents);
  }

  private async startIngress(index: number): Promise<void> {
    const existing = this.ingresses[index];
    const id = `ingress-${index + 1}`;
    const httpsPort = existing?.httpsPort ?? (await freeTcpPort());
    const httpPort = existing?.httpPort ?? (await freeTcpPort());
    const proc = new ManagedProcess(
      id,
      process.execPath,
      [serviceMain('https-ingress')],
      {
        ...this.commonEnv(index),
        HOPGATE_HTTPS_LISTEN: `127.0.0.1:${httpsPort}`,
        HOPGATE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
        HOPGATE_TLS_CERT_FILE: this.ingressCert.certFile,
        HOPGATE_TLS_KEY_FILE: this.ingressCert.keyFile,
        HOPGATE_INGRESS_ID: id,
        HOPGATE_LOG_LEVEL: this.options.ingressLogLevel ?? 'warn',
        ...(this.options.ingressEnv ?? {}),
      },
      path.join(this.logDir, `${id}.log`),
    );
    this.ingresses[index] = { index, id, httpsPort, httpPort, process: proc };
    await waitFor(`${id} listening`, async () => {
      if (proc.exited) throw new Error(`${id} exited: ${proc.stderr.slice(-500)}`);
      return tcpOpen(httpsPort);
    }, CLUSTER_START_TIMEOUT_MS);
  }

  private async startHub(index: number): Promise<void> {
    const existing = this.hubs[index];
    const id = `hub-${index + 1}`;
    const port = existing?.port ?? (await freeUdpPort());
    const proc = new ManagedProcess(
      id,
      process.execPath,
      [serviceMain('dtls-hub')],
      {
        ...this.commonEnv((this.options.ingresses ?? DEFAULT_CLUSTER_INGRESSES) + index),
        HOPGATE_HUB_ID: id,
        HOPGATE_DTLS_LISTEN: `127.0.0.1:${port}`,
        HOPGATE_DTLS_CERT_FILE: this.hubCert.certFile,
        HOPGATE_DTLS_KEY_FILE: this.hubCert.keyFile,
        HOPGATE_AGENT_IDLE_TIMEOUT_MS: '3000',
        HOPGATE_SESSION_TTL_MS: '3000',
        ...(this.options.hubEnv ?? {}),
      },
      path.join(this.logDir, `${id}.log`),
    );
    this.hubs[index] = { index, id, port, process: proc };
    await proc.waitForLog('dtls-hub listening', (r) => r.msg === 'dtls-hub listening', CLUSTER_START_TIMEOUT_MS);
  }

  /** Creates agent `index`: its client (token hash in Redis), its route, its origin, its process. */
  private async addAgent(index: number): Promise<void> {
    const name = `agent-${index + 1}`;
    const token = crypto.randomBytes(24).toString('base64url');
    const host = `${name}.${CLUSTER_DOMAIN}`;
    await redisCommand(this.redis.port, ['HSET', `hopgate:client:${name}`, 'token_sha256', crypto.createHash('sha256').update(token).digest('hex')]);
    await this.setRoute(host, '/', `${name}/web`);
    const origin = await startNamedOrigin(name);
    const hub = (this.options.agentHub ?? ((i: number, n: number) => i % n))(index, this.hubs.length);
    const server = this.options.agentServer ? this.options.agentServer(index, this) : this.hubAddress(hub);
    const configFile = path.join(this.dir, `${name}.json`);
    const config = {
      server,
      client_id: name,
      token,
      services: { web: origin.address },
      ca_file: this.ca.certFile,
      server_name: HUB_SERVER_NAME,
      reconnect_min_ms: 100,
      reconnect_max_ms: 2000,
      idle_timeout_ms: 3000,
      ...(this.options.agentExtra ?? {}),
    };
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    const agent: ClusterAgent = { index, name, clientId: name, token, host, hub, server, configFile, origin, process: this.spawnAgent(name, configFile) };
    this.agents[index] = agent;
    await this.waitOnline(agent);
  }

  private spawnAgent(name: string, configFile: string): ManagedProcess {
    return new ManagedProcess(name, process.execPath, [serviceMain('agent'), '--config', configFile], { HOPGATE_LOG_LEVEL: this.options.logLevel ?? 'info' }, path.join(this.logDir, `${name}.log`));
  }

  private async waitOnline(agent: ClusterAgent): Promise<void> {
    await agent.process.waitForLog('online', (r) => r.msg === 'online: session established', CLUSTER_START_TIMEOUT_MS);
  }
}
