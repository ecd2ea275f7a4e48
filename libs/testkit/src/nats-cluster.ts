import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort, tcpOpen } from './ports.js';
import { waitFor } from './wait.js';
import { reapOnExit } from './child-reaper.js';

/** Longest wait for a node to listen and to have its routes to every other running node, in ms. */
export const NATS_NODE_START_TIMEOUT_MS = 15_000;
/** Grace of a SIGTERMed nats-server before SIGKILL, in ms. */
export const NATS_NODE_STOP_GRACE_MS = 3_000;
/** Name of the cluster in the nodes' configs (`cluster { name }`). */
export const NATS_CLUSTER_NAME = 'hopgate';

/** One nats-server of the cluster: its three loopback ports stay the same across restarts. */
export interface NatsNode {
  readonly index: number;
  /** `server_name` in its config: `nats-<index + 1>`. */
  readonly name: string;
  /** Client port (`listen`). */
  readonly port: number;
  /** Route port (`cluster { listen }`). */
  readonly routePort: number;
  /** Monitoring port (`http`): /varz, /connz, /routez, /healthz. */
  readonly httpPort: number;
  /** The running process, undefined while stopped. */
  process: ChildProcess | undefined;
}

/** One client connection as nats-server's /connz lists it (the fields HopGate tests read). */
export interface NatsConnz {
  cid: number;
  name?: string;
  ip: string;
  port: number;
  subscriptions: number;
}

export interface NatsClusterOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Folder for configs and logs (`nats-<n>.conf`, `nats-<n>.log`). */
  dir: string;
}

/**
 * A real nats-server cluster on loopback: each node is `nats-server -c nats-<n>.conf` with
 * `cluster { listen, routes }` naming every other node, so each pair has a route whatever the
 * start order. Nodes can be killed (SIGKILL), stopped (SIGTERM) and restarted on the same
 * ports; a restarted node re-joins the cluster through its routes.
 */
export class NatsCluster {
  readonly nodes: NatsNode[] = [];

  private constructor(private readonly options: NatsClusterOptions) {}

  static async start(options: NatsClusterOptions): Promise<NatsCluster> {
    const cluster = new NatsCluster(options);
    const count = options.nodes ?? 3;
    fs.mkdirSync(options.dir, { recursive: true });
    for (let i = 0; i < count; i++) {
      cluster.nodes.push({ index: i, name: `nats-${i + 1}`, port: await freeTcpPort(), routePort: await freeTcpPort(), httpPort: await freeTcpPort(), process: undefined });
    }
    try {
      for (const node of cluster.nodes) cluster.spawnNode(node);
      for (const node of cluster.nodes) await cluster.waitReady(node);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** `nats://127.0.0.1:<port>` of node `index`. */
  url(index: number): string {
    return `nats://127.0.0.1:${this.node(index).port}`;
  }

  /**
   * Every node's URL, comma-separated (HOPGATE_NATS_URL), the list rotated by `rotate` so that
   * different services name a different node first. nats.js shuffles the list unless
   * `noRandomize` is set, so the order is a hint at most; /connz tells where a service is.
   */
  urlList(rotate = 0): string {
    const n = this.nodes.length;
    return this.nodes.map((_, i) => this.url((i + rotate) % n)).join(',');
  }

  node(index: number): NatsNode {
    const node = this.nodes[index];
    if (!node) throw new Error(`no NATS node ${index}`);
    return node;
  }

  running(index: number): boolean {
    const proc = this.node(index).process;
    return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  }

  /** Kills node `index` with SIGKILL (a crash: its connections and routes drop at once). */
  async kill9(index: number): Promise<void> {
    await this.end(index, 'SIGKILL');
  }

  /** Stops node `index` with SIGTERM (nats-server closes its clients and exits). */
  async stopNode(index: number): Promise<void> {
    await this.end(index, 'SIGTERM');
  }

  /**
   * Freezes node `index` (SIGSTOP): its connections stay open and the kernel still accepts new
   * ones, but nothing answers, as with a hung process or a machine lost behind a live network
   * path. `thaw` (SIGCONT) resumes it; stop() thaws before it signals.
   */
  freeze(index: number): void {
    this.node(index).process?.kill('SIGSTOP');
  }

  thaw(index: number): void {
    this.node(index).process?.kill('SIGCONT');
  }

  /** Starts node `index` again on its ports; resolves once it listens and has routes to the other running nodes. */
  async restart(index: number): Promise<void> {
    const node = this.node(index);
    if (this.running(index)) await this.stopNode(index);
    this.spawnNode(node);
    await this.waitReady(node);
  }

  /** The client connections of node `index` (its /connz). */
  async connz(index: number): Promise<NatsConnz[]> {
    const res = await fetch(`http://127.0.0.1:${this.node(index).httpPort}/connz?limit=1024&subs=0`);
    if (!res.ok) throw new Error(`/connz of ${this.node(index).name}: HTTP ${res.status}`);
    const body = (await res.json()) as { connections?: NatsConnz[] | null };
    return body.connections ?? [];
  }

  /** Number of routes node `index` has to other nodes (its /routez). */
  async routeCount(index: number): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.node(index).httpPort}/routez`);
    if (!res.ok) throw new Error(`/routez of ${this.node(index).name}: HTTP ${res.status}`);
    const body = (await res.json()) as { num_routes?: number };
    return body.num_routes ?? 0;
  }

  /**
   * Index of the running node that has a client connection named `connectionName` (a service
   * names its connection `https-ingress-<id>`, `dtls-hub-<id>`, ...), undefined if none has.
   */
  async nodeOf(connectionName: string): Promise<number | undefined> {
    for (const node of this.nodes) {
      if (!this.running(node.index)) continue;
      const conns = await this.connz(node.index).catch(() => []);
      if (conns.some((c) => c.name === connectionName)) return node.index;
    }
    return undefined;
  }

  /** Stops every node (SIGTERM, then SIGKILL after the grace). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.end(node.index, 'SIGTERM').catch(() => undefined)));
  }

  private configText(node: NatsNode): string {
    const routes = this.nodes.filter((n) => n !== node).map((n) => `nats-route://127.0.0.1:${n.routePort}`);
    return [
      `server_name: ${node.name}`,
      `listen: 127.0.0.1:${node.port}`,
      `http: 127.0.0.1:${node.httpPort}`,
      'cluster {',
      `  name: ${NATS_CLUSTER_NAME}`,
      `  listen: 127.0.0.1:${node.routePort}`,
      `  routes: [${routes.join(', ')}]`,
      '}',
      '',
    ].join('\n');
  }

  private spawnNode(node: NatsNode): void {
    const conf = path.join(this.options.dir, `${node.name}.conf`);
    fs.writeFileSync(conf, this.configText(node));
    const child = spawn('nats-server', ['-c', conf, '-l', path.join(this.options.dir, `${node.name}.log`)], {
      stdio: ['ignore', 'ignore', 'ignore'],
      cwd: os.tmpdir(),
    });
    reapOnExit(child);
    node.process = child;
  }

  private async waitReady(node: NatsNode): Promise<void> {
    const child = node.process;
    if (!child) throw new Error(`${node.name} is not started`);
    await waitFor(`${node.name} listening on ${node.port}`, () => child.exitCode !== null || tcpOpen(node.port), NATS_NODE_START_TIMEOUT_MS);
    if (child.exitCode !== null) throw new Error(`${node.name} exited with ${child.exitCode}: see ${path.join(this.options.dir, `${node.name}.log`)}`);
    const peers = this.nodes.filter((n) => n !== node && this.running(n.index)).length;
    await waitFor(`${node.name} routes to ${peers} running nodes`, async () => (await this.routeCount(node.index)) >= peers, NATS_NODE_START_TIMEOUT_MS);
  }

  private async end(index: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const node = this.node(index);
    const child = node.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (signal === 'SIGTERM') child.kill('SIGCONT'); // a frozen node handles SIGTERM only once thawed
    child.kill(signal);
    const timer = signal === 'SIGTERM' ? setTimeout(() => child.kill('SIGKILL'), NATS_NODE_STOP_GRACE_MS) : undefined;
    await exited;
    clearTimeout(timer);
  }
}
