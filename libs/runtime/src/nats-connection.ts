import fs from 'node:fs';
import {
  connect,
  credsAuthenticator,
  errors as natsErrors,
  nkeyAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  type ReconnectToServerHandler,
  type Status,
} from '@nats-io/transport-node';
import { readPemCertificates, redactUrl, type NatsConnectionConfig } from '@hopgate/config';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { NatsSubjects } from '@hopgate/keys';
import { silentLogger, ThrottledLog, type Logger } from '@hopgate/log';
import { ViolationLog } from './violation-log.js';
import { setNatsLinkState } from './bus-readiness.js';

/**
 * Wait before dialing a server again after the last dial of it, in ms (nats.js default 2000,
 * plus up to 100 ms of jitter). On a disconnect nats.js first re-dials the server it just lost,
 * no sooner than this after it last dialed it: with the default, a node that died within 2 s
 * of the service connecting to it (a second node loss, a rolling restart) held the service off
 * every live node for up to 2 s per such dead node (measured: 4 s with two). A refused dial
 * costs a few microseconds, so a full NATS outage at this pace is still cheap.
 */
export const NATS_RECONNECT_TIME_WAIT_MS = 250;
/**
 * Period of the client's PINGs, in ms (nats.js default 2 minutes). A node that vanishes without
 * closing its connections (machine lost, network partition) is noticed after NATS_MAX_PINGS_OUT
 * unanswered PINGs: 4 to 6 s instead of 4 to 6 minutes. A crash on a live machine needs no PING:
 * the kernel resets the connection at once.
 */
export const NATS_PING_INTERVAL_MS = 2_000;
/** Unanswered PINGs before the connection is declared stale and the client reconnects (nats.js default 2). */
export const NATS_MAX_PINGS_OUT = 2;
/**
 * Longest wait for one dial's handshake (TCP, TLS, INFO/CONNECT), in ms (nats.js default
 * 20000): a node that does not answer at all holds a reconnect off the others this long.
 */
export const NATS_CONNECT_TIMEOUT_MS = 3_000;

/**
 * nats.js's reconnectToServer hook: never re-dial first the server dialed last while another one
 * is there. nats.js walks its pool in order, and until its first reconnect the server in use is
 * at the head of the pool, so it dialed the node it had just lost first: a node that vanished
 * silently (a stopped process or a lost machine keep accepting TCP, or never answer) then held
 * the reconnect for NATS_CONNECT_TIMEOUT_MS. The server dialed last has the newest `lastConnect`
 * (while connected nothing is dialed, so after a loss it is the lost one); the one dialed
 * longest ago is taken instead. nats.js applies NATS_RECONNECT_TIME_WAIT_MS to the head of the
 * pool before asking, and every other server was dialed before it, so no server is dialed more
 * often than that.
 */
export const awayFromLastDialed: ReconnectToServerHandler = (pool) => {
  const head = pool[0];
  if (head === undefined || pool.length < 2 || head.lastConnect === 0) return null;
  let oldest = head;
  for (const server of pool) {
    if (server !== head && server.lastConnect >= head.lastConnect) return null; // the head is not the one dialed last
    if (server.lastConnect < oldest.lastConnect) oldest = server;
  }
  return oldest;
};

export interface NatsConnectionOptions {
  /** Connection name shown by the server (`https-ingress-<id>`, ...). */
  name: string;
  /**
   * The kind of service (`ingress`, `hub`, `cert-manager`): names the inbox prefix of its
   * requests (NatsSubjects.inboxPrefix), which the server's permissions allow to it alone.
   */
  service: string;
  /** Errors, permission violations, disconnects; default silent. */
  logger?: Logger;
  /** Default `new NatsSubjects()`. */
  subjects?: NatsSubjects;
  /** nats.js `noAsyncTraces` (the relay nodes set it: no stack capture per request). */
  noAsyncTraces?: boolean;
  /**
   * Bytes nats.js gathers before it writes them at once, within an event-loop turn (its hidden
   * `pendingLimit`, default 32 KiB); whatever is pending is written at the end of the turn anyway.
   * The relay nodes raise it so that a turn's messages leave in one write.
   */
  pendingLimitBytes?: number;
  /**
   * While no server of HOPGATE_NATS_URL can be reached, try again every
   * NATS_START_RETRY_INTERVAL_MS and log a warning naming them at most every
   * NATS_START_WAIT_LOG_INTERVAL_MS, instead of rejecting. A refused login still rejects. Default false.
   */
  waitUntilReachable?: boolean;
}

/** A service waiting at start for an unreachable NATS tries again after this pause, in ms. */
export const NATS_START_RETRY_INTERVAL_MS = 1_000;
/** ... and logs it at most once per this interval, in ms. */
export const NATS_START_WAIT_LOG_INTERVAL_MS = 5_000;

/**
 * The nats.js options for the configured servers: credentials (user and password, token, or a
 * creds / nkey seed file re-read at every reconnect, so a rotated file needs no restart), TLS
 * (required for `tls://` URLs and with HOPGATE_NATS_CA_FILE), endless and quick reconnects
 * (NATS_RECONNECT_TIME_WAIT_MS, NATS_PING_INTERVAL_MS, NATS_CONNECT_TIMEOUT_MS) that go to another
 * node than the one just lost (awayFromLastDialed), and the service's
 * own inbox prefix. nats.js shuffles the server list (no `noRandomize`), so the replicas of a
 * service spread over the nodes of a cluster whatever order HOPGATE_NATS_URL names them in.
 */
export function natsConnectOptions(config: NatsConnectionConfig, options: NatsConnectionOptions): NodeConnectionOptions {
  const subjects = options.subjects ?? new NatsSubjects();
  const opts: NodeConnectionOptions = {
    servers: [...config.natsServers],
    name: options.name,
    inboxPrefix: subjects.inboxPrefix(options.service),
    maxReconnectAttempts: -1,
    reconnectTimeWait: NATS_RECONNECT_TIME_WAIT_MS,
    pingInterval: NATS_PING_INTERVAL_MS,
    maxPingOut: NATS_MAX_PINGS_OUT,
    timeout: NATS_CONNECT_TIMEOUT_MS,
    reconnectToServer: awayFromLastDialed,
    // A login refused twice in a row would otherwise close the connection for good; keep
    // trying (each refusal is logged) so that the service recovers once the credentials are fixed.
    ignoreAuthErrorAbort: true,
    noAsyncTraces: options.noAsyncTraces ?? false,
  };
  // Not in nats.js's typed options (protocol.js reads `options.pendingLimit`).
  if (options.pendingLimitBytes !== undefined) Object.assign(opts, { pendingLimit: options.pendingLimitBytes });
  const auth = config.natsAuth;
  switch (auth.method) {
    case 'user_password':
      opts.user = auth.user;
      opts.pass = auth.password;
      break;
    case 'token':
      opts.token = auth.token;
      break;
    case 'creds_file': {
      const read = (): Uint8Array => fs.readFileSync(auth.file);
      opts.authenticator = auth.kind === 'jwt' ? credsAuthenticator(read) : nkeyAuthenticator(() => Buffer.from(fs.readFileSync(auth.file, 'utf8').trim()));
      break;
    }
    case 'none':
      break;
  }
  if (config.natsTls) {
    // An object (even empty) makes nats.js refuse a server without TLS; `tls://` alone does not.
    opts.tls = config.natsCaFile === undefined ? {} : { ca: readPemCertificates(config.natsCaFile, 'HOPGATE_NATS_CA_FILE') };
  }
  return opts;
}

/**
 * Connects to NATS as configured (the one way HopGate makes a NATS connection) and watches
 * the connection: permission violations are logged at warn (rate-limited) and the service
 * carries on; disconnects at warn, reconnects at info (and natsReadiness follows them). Rejects with a clear HopError when the
 * first connection fails: ERR_AUTH_FAILED when the server refused the login, ERR_CLOSED
 * otherwise (unreachable, TLS refused).
 */
export async function connectNats(config: NatsConnectionConfig, options: NatsConnectionOptions): Promise<NatsConnection> {
  if (options.waitUntilReachable !== true) return connectNatsOnce(config, options);
  const log = (options.logger ?? silentLogger()).child({ component: 'nats' });
  const where = config.natsServers.map(redactUrl).join(',');
  const since = Date.now();
  let lastLogAt = 0;
  for (;;) {
    try {
      const nc = await connectNatsOnce(config, options);
      if (lastLogAt > 0) log.info({ nats: where, waited_ms: Date.now() - since }, 'NATS reachable: starting');
      return nc;
    } catch (err) {
      if (errorCodeOf(err) !== ErrorCode.Closed) throw err;
      const now = Date.now();
      if (now - lastLogAt >= NATS_START_WAIT_LOG_INTERVAL_MS) {
        lastLogAt = now;
        log.warn({ nats: where, err: errorMessageOf(err), waited_ms: now - since }, `waiting for NATS at ${where}: not reachable yet, retrying`);
      }
      await new Promise((resolve) => setTimeout(resolve, NATS_START_RETRY_INTERVAL_MS));
    }
  }
}

async function connectNatsOnce(config: NatsConnectionConfig, options: NatsConnectionOptions): Promise<NatsConnection> {
  const log = (options.logger ?? silentLogger()).child({ component: 'nats', nats: config.natsServers.map(redactUrl).join(',') });
  let nc: NatsConnection;
  try {
    nc = await connect(natsConnectOptions(config, options));
  } catch (err) {
    const where = config.natsServers.map(redactUrl).join(',');
    if (err instanceof natsErrors.AuthorizationError || err instanceof natsErrors.UserAuthenticationExpiredError) {
      throw new HopError(ErrorCode.AuthFailed, `NATS at ${where} refused the login ${loginDescription(config)}: ${errorMessageOf(err)}`, { cause: err });
    }
    throw new HopError(ErrorCode.Closed, `cannot connect to NATS at ${where}: ${errorMessageOf(err)}`, { cause: err });
  }
  void watchNats(nc, log);
  return nc;
}

function loginDescription(config: NatsConnectionConfig): string {
  const auth = config.natsAuth;
  switch (auth.method) {
    case 'user_password':
      return `of user "${auth.user}" (HOPGATE_NATS_USER / HOPGATE_NATS_PASSWORD)`;
    case 'token':
      return 'with HOPGATE_NATS_TOKEN';
    case 'creds_file':
      return `with HOPGATE_NATS_CREDS_FILE ${auth.file}`;
    case 'none':
      return 'without credentials (set HOPGATE_NATS_USER / HOPGATE_NATS_PASSWORD, HOPGATE_NATS_TOKEN or HOPGATE_NATS_CREDS_FILE)';
  }
}

/** The same error from the server (a refused login at every re-dial, say) is logged at most once per this interval, in ms. */
export const NATS_ERROR_LOG_INTERVAL_MS = 10_000;

async function watchNats(nc: NatsConnection, log: Logger): Promise<void> {
  const violations = new ViolationLog(log);
  // One line per distinct server error per interval (a refused login repeats at every re-dial).
  const serverErrors = new ThrottledLog(log, NATS_ERROR_LOG_INTERVAL_MS);
  setNatsLinkState(nc, true);
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') setNatsLinkState(nc, false);
    else if (status.type === 'reconnect') setNatsLinkState(nc, true);
    onStatus(status, log, violations, serverErrors);
  }
}

function onStatus(status: Status, log: Logger, violations: ViolationLog, serverErrors: ThrottledLog): void {
  switch (status.type) {
    case 'error':
      if (status.error instanceof natsErrors.PermissionViolationError) violations.record(status.error.operation, status.error.subject);
      else {
        const err = errorMessageOf(status.error);
        serverErrors.warn(err, { err }, 'nats: error from the server');
      }
      return;
    case 'disconnect':
      log.warn({ server: status.server }, 'nats: disconnected; reconnecting');
      return;
    case 'reconnect':
      log.info({ server: status.server }, 'nats: reconnected');
      return;
    default:
      return;
  }
}
