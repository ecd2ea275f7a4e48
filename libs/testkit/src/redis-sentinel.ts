import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freeTcpPort, tcpOpen } from './ports.js';
import { startRedis, type RunningServer } from './servers.js';
import { waitFor } from './wait.js';
import { reapOnExit } from './child-reaper.js';

/**
 * Sentinels call the primary down after it has not answered for this long, in ms (tests: fast;
 * at 1 s a sentinel on a loaded 2-core machine lost sight of a just-elected primary and the
 * set failed over a second time).
 */
export const SENTINEL_DOWN_AFTER_MS = 2_000;
/** Sentinels give a failover this long before trying another, in ms. */
export const SENTINEL_FAILOVER_TIMEOUT_MS = 5_000;
/** How long startRedisSentinelSet waits for the sentinels to know the replica and each other, in ms. */
export const SENTINEL_SET_READY_TIMEOUT_MS = 20_000;

export interface RedisSentinelSetOptions {
  /** Working folder: the sentinels' config files (they rewrite them) and logs. */
  dir: string;
  /** The name the sentinels monitor the primary under (default `mymaster`). */
  masterName?: string;
  /** Number of replicas (default 1). */
  replicas?: number;
  /** Number of sentinels (default 3; the quorum is a majority of them). */
  sentinels?: number;
  /** notify-keyspace-events of every data node (default `Kgh`, as the stack's own Redis). */
  notifyKeyspaceEvents?: string;
}

/** A real Redis Sentinel deployment on loopback: one primary, its replicas, and sentinels watching them. */
export interface RedisSentinelSet {
  readonly masterName: string;
  /** The data nodes, the first started as the primary (which one is primary now: `primaryPort()`). */
  readonly nodes: RunningServer[];
  readonly sentinels: RunningServer[];
  /** `host:port,host:port,...` of the sentinels (HOPGATE_REDIS_SENTINELS). */
  readonly sentinelList: string;
  /** The settings of a service using this set: HOPGATE_REDIS_URL (login and db only), _SENTINELS and _SENTINEL_NAME. */
  readonly env: Record<string, string>;
  /** The port of the current primary, as the first answering sentinel says. */
  primaryPort(): Promise<number>;
  /** Resolves once every live replica acknowledged every write made on the primary so far (WAIT). */
  waitReplicasInSync(): Promise<void>;
  /** `SENTINEL FAILOVER <name>` once the replicas are in sync: a planned switch; resolves once the sentinels name another primary. */
  failover(): Promise<number>;
  /** SIGKILL of the current primary's process once the replicas are in sync; resolves with its port (the sentinels then elect another). */
  killPrimary(): Promise<number>;
  /** Resolves once the sentinels name a primary other than `port`; returns the new primary's port. */
  waitPrimaryChange(port: number, timeoutMs?: number): Promise<number>;
  /**
   * The primary the sentinels name now, once every other live data node is its replica. After a
   * failover the sentinels may elect again (a sentinel that lost sight of the new primary for
   * SENTINEL_DOWN_AFTER_MS): a check of "the new primary" asks this rather than keeping the
   * port of the first election.
   */
  settledPrimary(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/** Runs redis-cli and resolves with its standard output (rejects when it exits non-zero). */
export function redisCli(port: number, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * Starts a primary, `replicas` replicas (`--replicaof`) and `sentinels` sentinels
 * (`redis-server <conf> --sentinel`, the binary Debian's redis-sentinel is), and resolves once
 * every sentinel knows the replicas and the other sentinels, so that a failover can be run.
 */
export async function startRedisSentinelSet(options: RedisSentinelSetOptions): Promise<RedisSentinelSet> {
  const masterName = options.masterName ?? 'mymaster';
  const events = options.notifyKeyspaceEvents ?? 'Kgh';
  fs.mkdirSync(options.dir, { recursive: true });
  const nodes: RunningServer[] = [];
  const sentinels: RunningServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all([...sentinels, ...nodes].map((s) => s.stop().catch(() => undefined)));
  };
  try {
    // No 5 s wait before a full sync (repl-diskless-sync-delay): a replica is a copy within milliseconds.
    const nodeArgs = ['--repl-diskless-sync-delay', '0'];
    const primary = await startRedis({ notifyKeyspaceEvents: events, logFile: path.join(options.dir, 'redis-node-1.log'), extraArgs: nodeArgs });
    nodes.push(primary);
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      nodes.push(
        await startRedis({
          notifyKeyspaceEvents: events,
          logFile: path.join(options.dir, `redis-node-${i + 2}.log`),
          extraArgs: [...nodeArgs, '--replicaof', '127.0.0.1', String(primary.port)],
        }),
      );
    }
    const count = options.sentinels ?? 3;
    const quorum = Math.floor(count / 2) + 1;
    for (let i = 0; i < count; i++) sentinels.push(await startSentinel(options.dir, i + 1, masterName, primary.port, quorum));
    await waitFor(
      'sentinels know the replicas and each other',
      async () => {
        for (const s of sentinels) {
          const info = await redisCli(s.port, ['SENTINEL', 'MASTER', masterName]);
          if (fieldOf(info, 'num-slaves') < nodes.length - 1 || fieldOf(info, 'num-other-sentinels') < count - 1) return false;
        }
        return true;
      },
      SENTINEL_SET_READY_TIMEOUT_MS,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const sentinelList = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  const primaryPort = async (): Promise<number> => {
    let lastError: unknown;
    for (const s of sentinels) {
      if (s.process.exitCode !== null) continue;
      try {
        const reply = await redisCli(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]);
        const port = Number(reply.trim().split('\n')[1]);
        if (Number.isInteger(port) && port > 0) return port;
      } catch (err) {
        lastError = err;
      }
    }
    throw new Error(`no sentinel named the primary: ${String(lastError)}`);
  };
  /** Resolves once every live replica acknowledged every write made on the primary so far (WAIT). */
  const waitReplicasInSync = async (): Promise<void> => {
    const port = await primaryPort();
    const replicas = nodes.filter((n) => n.port !== port && n.process.exitCode === null && n.process.signalCode === null).length;
    await waitFor(
      `${replicas} replica(s) in sync with the primary ${port}`,
      async () => Number((await redisCli(port, ['WAIT', String(replicas), '1000'])).trim()) >= replicas,
      SENTINEL_SET_READY_TIMEOUT_MS,
      100,
    );
  };
  /**
   * Settled, not just elected: for a while after a failover another node may still call itself
   * master (a former primary the sentinels have not reconfigured yet), and a client that asked a
   * sentinel with an older view writes there. True once every live data node but `port` is a
   * replica of it.
   */
  const settledOn = async (port: number): Promise<boolean> => {
    for (const node of nodes) {
      if (node.port === port || node.process.exitCode !== null || node.process.signalCode !== null) continue;
      const role = (await redisCli(node.port, ['ROLE']).catch(() => '')).split('\n').map((l) => l.trim());
      if (role[0] !== 'slave' || Number(role[2]) !== port) return false;
    }
    return true;
  };
  /** The settled primary the sentinels name, once it is not `except`. */
  const waitSettled = (except: number | undefined, timeoutMs: number): Promise<number> =>
    waitFor(except === undefined ? 'a settled primary' : `a settled primary other than ${except}`, async () => {
      const now = await primaryPort();
      return now !== except && (await settledOn(now)) ? now : undefined;
    }, timeoutMs, 100);
  // A failover attempt that fails (a replica slow to answer on a loaded machine) is retried by the
  // sentinels only after 2 x failover-timeout: leave room for a second attempt.
  const waitPrimaryChange = (port: number, timeoutMs = SENTINEL_FAILOVER_TIMEOUT_MS * 6): Promise<number> => waitSettled(port, timeoutMs);
  // The sentinels may fail over again after an election (one that lost sight of the new primary
  // for down-after-milliseconds on a loaded machine): whoever checks "the new primary" asks again.
  const settledPrimary = (timeoutMs = SENTINEL_FAILOVER_TIMEOUT_MS * 6): Promise<number> => waitSettled(undefined, timeoutMs);
  return {
    masterName,
    nodes,
    sentinels,
    sentinelList,
    // The URL's host is not used with Sentinel: a name that never resolves (RFC 6761 .invalid) makes sure of it.
    env: { HOPGATE_REDIS_URL: 'redis://sentinel-primary.invalid:6379', HOPGATE_REDIS_SENTINELS: sentinelList, HOPGATE_REDIS_SENTINEL_NAME: masterName },
    primaryPort,
    waitReplicasInSync,
    async failover() {
      await waitReplicasInSync();
      const before = await primaryPort();
      await redisCli(sentinels[0]!.port, ['SENTINEL', 'FAILOVER', masterName]);
      return waitPrimaryChange(before);
    },
    async killPrimary() {
      await waitReplicasInSync();
      const port = await primaryPort();
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`the primary ${port} is none of the set's nodes`);
      node.process.kill('SIGKILL');
      await waitFor('the primary gone', () => node.process.exitCode !== null || node.process.signalCode !== null, 5_000);
      return port;
    },
    waitPrimaryChange,
    settledPrimary,
    stop,
  };
}

/** The value of `name` in a SENTINEL MASTER reply (redis-cli prints one field or value per line). */
function fieldOf(reply: string, name: string): number {
  const lines = reply.split('\n').map((l) => l.trim());
  const at = lines.indexOf(name);
  return at >= 0 ? Number(lines[at + 1]) : 0;
}

async function startSentinel(dir: string, n: number, masterName: string, primaryPort: number, quorum: number): Promise<RunningServer> {
  const port = await freeTcpPort();
  const conf = path.join(dir, `sentinel-${n}.conf`);
  fs.writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `logfile ${path.join(dir, `sentinel-${n}.log`)}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} ${quorum}`,
      `sentinel down-after-milliseconds ${masterName} ${SENTINEL_DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${masterName} ${SENTINEL_FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'ignore'] });
  reapOnExit(child);
  await waitFor(`redis-sentinel on ${port}`, () => child.exitCode !== null || tcpOpen(port), 10_000);
  if (child.exitCode !== null) throw new Error(`redis-sentinel exited with ${child.exitCode}: see ${dir}/sentinel-${n}.log`);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
