import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { containedCallback, type Logger } from '@hopgate/log';
import type { NatsSubjects } from '@hopgate/keys';
import { CertStore, decodeCertUpdated, isServable } from '@hopgate/certs';
import { errorMessageOf } from '@hopgate/errors';

/** A certificate and key the hub may serve, and where it came from. */
export interface HubCredentials {
  readonly certPem: string;
  readonly keyPem: string;
  readonly source: 'redis' | 'file';
  /** Leaf serial (hex) when known. */
  readonly serial: string | undefined;
  /** SHA-256 of chain and key: tells two certificates apart whatever their fields say. */
  readonly fingerprint: string;
}

export function credentialsFingerprint(certPem: string, keyPem: string): string {
  return crypto.createHash('sha256').update(certPem).update('\n').update(keyPem).digest('hex');
}

type RedisRead = { kind: 'usable'; credentials: HubCredentials } | { kind: 'none' } | { kind: 'keep' };

export interface HubCertificateOptions {
  /** HOPGATE_HUB_NAME: the record `hopgate:cert:<name>` to serve. */
  name: string;
  store: CertStore;
  nc: NatsConnection;
  subjects: NatsSubjects;
  /** The file certificate (HOPGATE_DTLS_CERT_FILE/KEY_FILE): served while Redis has no usable one. */
  fileCredentials: HubCredentials | undefined;
  /** Period of the re-read, in ms (HOPGATE_CERT_REREAD_INTERVAL_MS). */
  rereadIntervalMs: number;
  /** Puts credentials in force for new handshakes; throws when the DTLS layer refuses them. */
  apply(credentials: HubCredentials): void;
  logger: Logger;
}

/**
 * Keeps the hub's DTLS certificate in step with `hopgate:cert:<HOPGATE_HUB_NAME>`: read at
 * start, again on every `hopgate.cert.updated` for the name and every `rereadIntervalMs`
 * (a broadcast missed while NATS was away costs at most one period). A usable Redis
 * certificate wins over the file one; an unusable record is logged once and the current
 * certificate stays. Live DTLS sessions keep the certificate they were made with.
 */
export class HubCertificate {
  private current: HubCredentials | undefined;
  /** notAfter of the served certificate, read once per certificate (by fingerprint). */
  private expiryOf: { fingerprint: string; notAfterMs: number | undefined } | undefined;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly logged = new Set<string>();
  private readonly log: Logger;

  constructor(private readonly options: HubCertificateOptions) {
    this.log = options.logger.child({ component: 'hub-certificate', hub_name: options.name });
  }

  /** The served certificate's name and notAfter (metrics); undefined while none is served or it cannot be read. */
  expiry(): { name: string; notAfterMs: number } | undefined {
    const served = this.current;
    if (!served) return undefined;
    if (this.expiryOf?.fingerprint !== served.fingerprint) {
      let notAfterMs: number | undefined;
      try {
        notAfterMs = Date.parse(new crypto.X509Certificate(served.certPem).validTo);
      } catch {
        notAfterMs = undefined; // not a certificate node can read: no expiry to show
      }
      this.expiryOf = { fingerprint: served.fingerprint, notAfterMs };
    }
    const { notAfterMs } = this.expiryOf;
    return notAfterMs === undefined || Number.isNaN(notAfterMs) ? undefined : { name: this.options.name, notAfterMs };
  }

  /** What the hub serves now (undefined: nothing yet, handshakes are refused). */
  get served(): HubCredentials | undefined {
    return this.current;
  }

  /** The credentials to listen with: the Redis certificate if usable, else the file one, else none. */
  async initial(): Promise<HubCredentials | undefined> {
    const read = await this.readRedis();
    const chosen = (read.kind === 'usable' ? read.credentials : undefined) ?? this.options.fileCredentials;
    this.current = chosen;
    if (chosen) this.announce(chosen);
    else this.log.warn(`dtls-hub waits for the certificate of ${this.options.name}: no usable hopgate:cert:${this.options.name} in redis and no HOPGATE_DTLS_CERT_FILE; agent handshakes are refused until it appears`);
    return chosen;
  }

  /** Subscribes to `hopgate.cert.updated` and starts the periodic re-read. */
  start(): void {
    this.sub = this.options.nc.subscribe(this.options.subjects.certUpdated, {
      callback: containedCallback(this.log, 'cert.updated handling', (err, msg) => {
        if (err) return;
        if (decodeCertUpdated(msg.data)?.toLowerCase() === this.options.name) void this.check();
      }),
    });
    this.timer = setInterval(() => void this.check(), this.options.rereadIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.sub?.unsubscribe();
    if (this.timer) clearInterval(this.timer);
  }

  /** Reads the record again and switches if it changed; concurrent calls fold into one more read. */
  check(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.checkOnce();
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    const read = await this.readRedis();
    // Redis down or a malformed record: keep what is served. No usable certificate (none, expired): the file one, if any.
    if (read.kind === 'keep') return;
    const wanted = read.kind === 'usable' ? read.credentials : this.options.fileCredentials;
    if (!wanted || wanted.fingerprint === this.current?.fingerprint) return;
    try {
      this.options.apply(wanted);
    } catch (err) {
      this.logOnce(`apply:${wanted.fingerprint}`, { serial: wanted.serial, reason: errorMessageOf(err) }, 'hub certificate refused by DTLS: keeping the current one');
      return;
    }
    this.current = wanted;
    this.announce(wanted);
  }

  /** The servable Redis certificate; `none` (no record, expired) or `keep` (Redis down, malformed), each logged once. */
  private async readRedis(): Promise<RedisRead> {
    const name = this.options.name;
    let result;
    try {
      result = await this.options.store.get(name);
    } catch (err) {
      this.logOnce('redis', { err: errorMessageOf(err) }, 'cannot read the hub certificate from redis: keeping the current one');
      return { kind: 'keep' };
    }
    this.logged.delete('redis');
    if (!result.ok) {
      this.logOnce(`bad:${result.problem.reason}`, { reason: result.problem.reason }, 'hub certificate record in redis is unusable: keeping the current one');
      return { kind: 'keep' };
    }
    const record = result.record;
    if (!isServable(record)) {
      if (record?.chainPem) this.logOnce(`expired:${record.serial ?? ''}`, { serial: record.serial }, 'hub certificate in redis has expired: not served');
      return { kind: 'none' };
    }
    return { kind: 'usable', credentials: { certPem: record.chainPem, keyPem: record.keyPem, source: 'redis', serial: record.serial, fingerprint: credentialsFingerprint(record.chainPem, record.keyPem) } };
  }

  private announce(credentials: HubCredentials): void {
    this.log.info({ source: credentials.source, serial: credentials.serial }, 'hub certificate loaded');
  }

  private logOnce(key: string, fields: Record<string, unknown>, msg: string): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log.warn(fields, msg);
  }
}
