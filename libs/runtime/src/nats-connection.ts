import fs from 'node:fs';
import {
  connect,
  credsAuthenticator,
  errors as natsErrors,
  nkeyAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  type Status,
} from '@nats-io/transport-node';
import { readPemCertificates, redactUrl, type NatsConnectionConfig } from '@hopgate/config';
import { HopError, ErrorCode, errorCodeOf, errorMessageOf } from '@hopgate/errors';
import { NatsSubjects } from '@hopgate/keys';
import { silentLogger, type Logger } from '@hopgate/log';
import { ViolationLog } from './violation-log.js';

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
 * (required for `tls://` URLs and with HOPGATE_NATS_CA_FILE), endless reconnects, and the
 * service's own inbox prefix.
 */
export function natsConnectOptions(config: NatsConnectionConfig, options: NatsConnectionOptions): NodeConnectionOptions {
  const subjects = options.subjects ?? new NatsSubjects();
  const opts: NodeConnectionOptions = {
    servers: [...config.natsServers],
    name: options.name,
    inboxPrefix: subjects.inboxPrefix(options.service),
    maxReconnectAttempts: -1,
    // A login refused twice in a row would otherwise close the connection for good; keep
    // trying (each refusal is logged) so that the service recovers once the credentials are fixed.
    ignoreAuthErrorAbort: true,
    noAsyncTraces: options.noAsyncTraces ?? false,
  };
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
 * carries on; disconnects at warn, reconnects at info. Rejects with a clear HopError when the
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

async function watchNats(nc: NatsConnection, log: Logger): Promise<void> {
  const violations = new ViolationLog(log);
  for await (const status of nc.status()) onStatus(status, log, violations);
}

function onStatus(status: Status, log: Logger, violations: ViolationLog): void {
  switch (status.type) {
    case 'error':
      if (status.error instanceof natsErrors.PermissionViolationError) violations.record(status.error.operation, status.error.subject);
      else log.warn({ err: errorMessageOf(status.error) }, 'nats: error from the server');
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
