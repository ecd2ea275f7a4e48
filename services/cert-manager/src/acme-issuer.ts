import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import acme, { type Authorization, type Client as AcmeClient } from 'acme-client';
import axios, { type AxiosAdapter } from 'axios';
import type { AcmeChallenge } from '@hopgate/config';
import type { ChallengeStore } from '@hopgate/certs';
import { HopError, ErrorCode, errorMessageOf } from '@hopgate/errors';
import type { Logger } from '@hopgate/log';
import type { AccountStore } from './account-store.js';
import { acmeTransportError } from './acme-error.js';
import { mirrorAccountKey } from './cache-mirror.js';
import { readCachedAccountKey } from './cache-restore.js';

/**
 * How long challenge material stays in Redis, in ms: longer than the longest order
 * (acme-client polls up to 10 times with delays up to 30 s), removed earlier when the order ends.
 */
export const CHALLENGE_TTL_MS = 15 * 60_000;
/** One HTTP request to the ACME server, in ms, before it counts as failed. */
export const ACME_HTTP_TIMEOUT_MS = 30_000;
/** Longest delay between two polls of a pending challenge or order, in ms (acme-client's default). */
export const ACME_POLL_MAX_MS = 30_000;
/** Polls of a pending challenge or order before the order counts as failed (acme-client's default). */
export const ACME_POLL_ATTEMPTS = 10;
/** Certificate keys: ECDSA P-256 (the hub's DTLS stack and the agent need P-256). */
export const CERT_KEY_CURVE = 'P-256';

/** What an order produced. */
export interface IssuedCertificate {
  /** Leaf first, then intermediates (PEM). */
  readonly chainPem: string;
  readonly keyPem: string;
}

export interface AcmeIssuerOptions {
  readonly directoryUrl: string;
  readonly email: string | undefined;
  readonly challenge: AcmeChallenge;
  /** Extra PEM CA for the ACME server's HTTPS (HOPGATE_ACME_CA_FILE). */
  readonly caFile: string | undefined;
  /** First delay between polls of a pending challenge or order, in ms. */
  readonly pollMinMs: number;
  readonly accounts: AccountStore;
  readonly challenges: ChallengeStore;
  /** HOPGATE_ACME_CACHE_DIR: the account key is mirrored there and taken back from there when Redis has none. */
  readonly cacheDir?: string | undefined;
  readonly logger: Logger;
}

let transportConfigured = false;

/**
 * acme-client sends every request through one module-wide axios instance: configure it
 * once per process (trusted CAs, timeout, and transport errors that name the server).
 */
function configureTransport(directoryUrl: string, caFile: string | undefined, logger: Logger): void {
  if (transportConfigured) return;
  transportConfigured = true;
  const instance = acme.axios;
  if (caFile !== undefined) {
    // `ca` replaces the default roots: keep the system's and add the operator's.
    instance.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, fs.readFileSync(caFile, 'utf8')], keepAlive: true });
  }
  instance.defaults.timeout = ACME_HTTP_TIMEOUT_MS;
  const http = axios.getAdapter('http') as AxiosAdapter;
  instance.defaults.adapter = async (config) => {
    try {
      return await http(config);
    } catch (err) {
      if ((err as { response?: unknown }).response !== undefined) throw err;
      throw acmeTransportError(directoryUrl, err);
    }
  };
  acme.setLogger((message) => logger.debug({ acme: message }, 'acme-client'));
}

/**
 * Orders certificates from the ACME server (RFC 8555 §7.4) for one name at a time, with a
 * fresh P-256 key each, answering challenges through Redis so that any ingress replica
 * can serve them.
 */
export class AcmeIssuer {
  private readonly log: Logger;
  /** Tail of the registrations of this process (one at a time). */
  private registering: Promise<void> = Promise.resolve();

  constructor(private readonly options: AcmeIssuerOptions) {
    this.log = options.logger.child({ component: 'acme-issuer' });
    configureTransport(options.directoryUrl, options.caFile, this.log);
  }

  /** The account key for this directory, made (cluster-wide, once) if there is none. */
  async ensureAccount(): Promise<void> {
    const o = this.options;
    let restored = false;
    const { account, created } = await o.accounts.ensure(o.directoryUrl, o.email, async () => {
      // Redis has no account (first start, or a Redis that lost its data): the cached key keeps the same account.
      const cached = o.cacheDir !== undefined ? await readCachedAccountKey(o.cacheDir, o.directoryUrl) : undefined;
      restored = cached !== undefined;
      return cached ?? (await acme.crypto.createPrivateEcdsaKey(CERT_KEY_CURVE)).toString();
    });
    if (created) this.log.info({ directory: o.directoryUrl, source: restored ? 'cache' : 'new' }, restored ? 'acme account key restored from the cache folder' : 'acme account key created');
    if (o.cacheDir !== undefined) {
      await mirrorAccountKey(o.cacheDir, o.directoryUrl, account.keyPem).catch((err: unknown) =>
        this.log.error({ err: errorMessageOf(err), dir: o.cacheDir }, 'could not mirror the acme account key to the cache folder'),
      );
    }
  }

  /** Runs one order for `name` to the end; throws HopError(ERR_ACME) with a one-line message. */
  async issue(name: string): Promise<IssuedCertificate> {
    const o = this.options;
    await this.ensureAccount();
    const account = await o.accounts.read(o.directoryUrl);
    if (!account) throw new HopError(ErrorCode.Acme, 'the ACME account changed while an order started');
    const client = new acme.Client({
      directoryUrl: o.directoryUrl,
      accountKey: account.keyPem,
      backoffMin: o.pollMinMs,
      backoffMax: Math.max(o.pollMinMs, ACME_POLL_MAX_MS),
      backoffAttempts: ACME_POLL_ATTEMPTS,
    });
    const keyPem = (await acme.crypto.createPrivateEcdsaKey(CERT_KEY_CURVE)).toString();
    const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, keyPem);
    let chainPem: string;
    try {
      await this.register(client);
      chainPem = await client.auto({
        csr,
        email: o.email,
        termsOfServiceAgreed: true,
        // The cert-manager cannot reach its own public name from inside the cluster: the CA validates.
        skipChallengeVerification: true,
        challengePriority: [o.challenge],
        challengeCreateFn: (authz, challenge, keyAuthorization) => this.createChallenge(authz, challenge, keyAuthorization),
        challengeRemoveFn: (authz, challenge) => this.removeChallenge(authz, challenge),
      });
    } catch (err) {
      if (err instanceof HopError) throw err;
      throw new HopError(ErrorCode.Acme, `ACME order for ${name} failed: ${errorMessageOf(err)}`, { cause: err });
    }
    try {
      const url = client.getAccountUrl();
      if (url !== account.url) await o.accounts.setUrl(o.directoryUrl, account.keyPem, url);
    } catch (err) {
      this.log.warn({ err: errorMessageOf(err) }, 'could not record the ACME account URL');
    }
    return { chainPem, keyPem };
  }

  /**
   * Finds the account of the stored key (RFC 8555 §7.3.1 `onlyReturnExisting`), or registers
   * it when the server does not know it (first order, or a CA that forgot it). Done before
   * every order rather than trusting the stored URL: one request, and no order ever fails
   * on an account the server lost. Orders of this process register one at a time; a
   * registration that raced another replica's finds the account on a second lookup.
   */
  private register(client: AcmeClient): Promise<void> {
    const run = this.registering.then(async () => {
      if (await this.findAccount(client)) return;
      try {
        await client.createAccount({
          termsOfServiceAgreed: true,
          ...(this.options.email !== undefined ? { contact: [`mailto:${this.options.email}`] } : {}),
        });
      } catch (err) {
        if (err instanceof HopError || !(await this.findAccount(client))) throw err;
        return;
      }
      this.log.info({ directory: this.options.directoryUrl }, 'acme account registered');
    });
    this.registering = run.catch(() => undefined);
    return run;
  }

  /** True when the server knows the account of the client's key; throws when the server is unreachable. */
  private async findAccount(client: AcmeClient): Promise<boolean> {
    try {
      await client.createAccount({ onlyReturnExisting: true });
      return true;
    } catch (err) {
      if (err instanceof HopError) throw err; // transport failure: registering would fail alike
      return false;
    }
  }

  private async createChallenge(authz: Authorization, challenge: { type: string; token: string }, keyAuthorization: string): Promise<void> {
    const name = authz.identifier.value;
    if (challenge.type === 'http-01') {
      // RFC 8555 §8.3: served at http://<name>/.well-known/acme-challenge/<token> by every ingress.
      await this.options.challenges.putHttp01(challenge.token, keyAuthorization, CHALLENGE_TTL_MS);
    } else if (challenge.type === 'tls-alpn-01') {
      // RFC 8737 §3: a self-signed certificate for <name> carrying the acmeIdentifier extension.
      const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
      await this.options.challenges.putTlsAlpn01(name, cert.toString(), key.toString(), CHALLENGE_TTL_MS);
    } else {
      throw new HopError(ErrorCode.Acme, `the ACME server offered no ${this.options.challenge} challenge for ${name} (got ${challenge.type})`);
    }
    this.log.debug({ name, challenge: challenge.type }, 'challenge published');
  }

  private async removeChallenge(authz: Authorization, challenge: { type: string; token: string }): Promise<void> {
    if (challenge.type === 'http-01') await this.options.challenges.deleteHttp01(challenge.token);
    else if (challenge.type === 'tls-alpn-01') await this.options.challenges.deleteTlsAlpn01(authz.identifier.value);
  }
}
