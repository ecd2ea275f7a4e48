import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createDevCa } from './certs.js';
import { freeTcpPort, freeUdpPort, tcpOpen } from './ports.js';
import { waitFor } from './wait.js';
import { reapOnExit } from './child-reaper.js';

/** How long pebble (and pebble-challtestsrv) get to open their ports, in ms. */
export const PEBBLE_START_TIMEOUT_MS = 15_000;
/** SIGTERM, then SIGKILL after this many ms. */
const PEBBLE_STOP_GRACE_MS = 3_000;

export interface PebbleOptions {
  /** Working folder: listener certificate, config and `pebble.log` (created). */
  dir: string;
  /** Port on 127.0.0.1 where pebble validates HTTP-01 (the ingress's HTTP port); default a free port (nothing listening). */
  httpPort?: number;
  /** Port on 127.0.0.1 where pebble validates TLS-ALPN-01 (the ingress's HTTPS port); default a free port. */
  tlsPort?: number;
  /** Fixed ACME (directory) port; default random. Fix it to restart pebble "at the same address". */
  acmePort?: number;
  /** Fixed management port; default random. */
  managementPort?: number;
  /**
   * Percent of authorizations pebble reuses for a new order of an already validated name
   * (PEBBLE_AUTHZREUSE); default 0, so every order is validated for real.
   */
  authzReusePercent?: number;
  /** Extra environment for pebble (e.g. `PEBBLE_VA_ALWAYS_VALID: '1'`). */
  env?: Record<string, string>;
}

/** A running pebble ACME server with its fake DNS (every name resolves to 127.0.0.1). */
export interface RunningPebble {
  /** `https://127.0.0.1:<port>/dir` (HOPGATE_ACME_DIRECTORY). */
  readonly directoryUrl: string;
  readonly acmePort: number;
  readonly managementPort: number;
  /** PEM file of the CA that signed pebble's own HTTPS listener (HOPGATE_ACME_CA_FILE). */
  readonly caFile: string;
  /** pebble's stdout+stderr, one file, appended across restarts. */
  readonly logFile: string;
  /** The root that signs issued chains (management `/roots/0`); changes on every pebble start. */
  rootPem(): Promise<string>;
  /** Orders created since this pebble process started (its log's `POST /order-plz` lines). */
  orderCount(): number;
  /**
   * Challenge validations pebble ran for `name` since it started (its log's
   * `Pulled a task ... Value:"<name>"` lines). With authorization reuse off (the default
   * here) that is one per order of the name.
   */
  validationCount(name: string): number;
  /** Accounts pebble holds (its last `There are now N accounts in memory` line; 0 before any). */
  accountCount(): number;
  /** Stops pebble only (the DNS stays); `start()` brings it back on the same ports with a new root. */
  stopAcme(): Promise<void>;
  /** Starts pebble again after `stopAcme()`. */
  startAcme(): Promise<void>;
  /** Stops pebble and pebble-challtestsrv. */
  stop(): Promise<void>;
}

/** pebble logs one line per request: `POST /order-plz -> calling handler()` (pebble 2.4). */
const ORDER_LOG_LINE = /POST \/order-plz\b/g;
/** pebble logs the account total after each registration. */
const ACCOUNTS_LOG_LINE = /There are now (\d+) accounts in memory/g;

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), PEBBLE_STOP_GRACE_MS);
  });
}

function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`GET ${url}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          else resolve(body);
        });
      })
      .on('error', reject);
  });
}

/**
 * Starts pebble (the ACME test CA, real validation) and pebble-challtestsrv as its DNS
 * server resolving every name to 127.0.0.1 (IPv4 only), on random loopback ports.
 * PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0 make it deterministic.
 */
export async function startPebble(options: PebbleOptions): Promise<RunningPebble> {
  fs.mkdirSync(options.dir, { recursive: true });
  const ca = createDevCa(path.join(options.dir, 'pki'), 'Pebble Listener Test CA');
  const listener = ca.issue('pebble-listener', ['localhost', '127.0.0.1']);
  const acmePort = options.acmePort ?? (await freeTcpPort());
  const managementPort = options.managementPort ?? (await freeTcpPort());
  const dnsPort = await freeUdpPort();
  const challManagementPort = await freeTcpPort();
  const httpPort = options.httpPort ?? (await freeTcpPort());
  const tlsPort = options.tlsPort ?? (await freeTcpPort());
  const configFile = path.join(options.dir, 'pebble-config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: listener.certFile,
        privateKey: listener.keyFile,
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }, null, 2),
  );
  const logFile = path.join(options.dir, 'pebble.log');
  const dnsLog = fs.openSync(path.join(options.dir, 'challtestsrv.log'), 'a');
  const dns = spawn(
    'pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challManagementPort}`,
      '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    { stdio: ['ignore', dnsLog, dnsLog] },
  );
  reapOnExit(dns);
  let pebble: ChildProcess | undefined;
  let logText = '';

  const startAcme = async (): Promise<void> => {
    logText = '';
    const out = fs.createWriteStream(logFile, { flags: 'a' });
    const child = spawn('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], {
      env: {
        ...process.env,
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: String(options.authzReusePercent ?? 0),
        ...(options.env ?? {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.dir,
    });
    reapOnExit(child);
    pebble = child;
    const onData = (chunk: Buffer): void => {
      out.write(chunk);
      logText += chunk.toString('utf8');
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => out.end());
    await waitFor(`pebble on ${acmePort}`, async () => {
      if (child.exitCode !== null) throw new Error(`pebble exited: ${logText.slice(-500)}`);
      return (await tcpOpen(acmePort)) && (await tcpOpen(managementPort));
    }, PEBBLE_START_TIMEOUT_MS);
  };

  const stopAcme = async (): Promise<void> => {
    await stopChild(pebble);
  };

  try {
    await waitFor(`pebble-challtestsrv on ${challManagementPort}`, async () => {
      if (dns.exitCode !== null) throw new Error('pebble-challtestsrv exited');
      return tcpOpen(challManagementPort);
    }, PEBBLE_START_TIMEOUT_MS);
    await startAcme();
  } catch (err) {
    await stopAcme();
    await stopChild(dns);
    throw err;
  }

  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    acmePort,
    managementPort,
    caFile: ca.certFile,
    logFile,
    rootPem: () => httpsGet(`https://127.0.0.1:${managementPort}/roots/0`, ca.certPem),
    orderCount: () => (logText.match(ORDER_LOG_LINE) ?? []).length,
    validationCount: (name) => logText.split('\n').filter((line) => line.includes('Pulled a task') && line.includes(`Value:${JSON.stringify(name)}`)).length,
    accountCount: () => {
      const counts = [...logText.matchAll(ACCOUNTS_LOG_LINE)].map((m) => Number(m[1]));
      return counts.length === 0 ? 0 : counts[counts.length - 1]!;
    },
    stopAcme,
    startAcme,
    stop: async () => {
      await stopAcme();
      await stopChild(dns);
    },
  };
}
