import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseChain, parseCertRecord, type CertRecord } from '@hopgate/certs';
import { RedisKeys } from '@hopgate/keys';
import { waitFor, type RunningPebble, type Stack } from '@hopgate/testkit';

const keys = new RedisKeys();

/** Env for a cert-manager against `pebble`, with short timers for tests. */
export function certManagerEnv(pebble: RunningPebble, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOPGATE_ACME_DIRECTORY: pebble.directoryUrl,
    HOPGATE_ACME_CA_FILE: pebble.caFile,
    HOPGATE_ACME_POLL_MIN_MS: '50',
    HOPGATE_ACME_RETRY_BASE_MS: '300',
    HOPGATE_ACME_RENEW_CHECK_INTERVAL_MS: '1000',
    HOPGATE_LOG_LEVEL: 'debug',
    ...extra,
  };
}

/** The parsed `hopgate:cert:<name>` record (undefined when absent); fails the test on a malformed one. */
export async function readCert(redis: Redis, name: string): Promise<CertRecord | undefined> {
  const result = parseCertRecord(name, await redis.hgetall(keys.cert(name)));
  if (!result.ok) throw new Error(`malformed record for ${name}: ${result.problem.reason}`);
  return result.record;
}

/** Waits until `name` has status `valid` with a serial other than `notSerial`. */
export async function waitValid(redis: Redis, name: string, timeoutMs: number, notSerial?: string): Promise<CertRecord> {
  return waitFor(`certificate for ${name} valid${notSerial ? ` (serial != ${notSerial})` : ''}`, async () => {
    const record = await readCert(redis, name);
    return record?.status === 'valid' && record.serial !== notSerial ? record : undefined;
  }, timeoutMs, 50);
}

/**
 * Asserts the stored chain is a real certificate for `name`: leaf signed by the
 * intermediate, intermediate by pebble's root, the name in subjectAltName, the key matches,
 * a P-256 key.
 */
export function assertIssuedFor(record: CertRecord, name: string, rootPem: string): void {
  assert.ok(record.chainPem && record.keyPem, `${name}: chain and key stored`);
  const chain = parseChain(record.chainPem);
  assert.ok(chain.length >= 2, `${name}: leaf and intermediate`);
  const root = new X509Certificate(rootPem);
  for (let i = 0; i < chain.length; i++) {
    const issuer = chain[i + 1] ?? root;
    assert.ok(chain[i]!.verify(issuer.publicKey), `${name}: chain[${i}] signed by ${issuer.subject}`);
  }
  assert.ok(chain[chain.length - 1]!.checkIssued(root), `${name}: chain ends at pebble's root`);
  const leaf = chain[0]!;
  assert.equal(leaf.checkHost(name), name, `${name}: the leaf names it`);
  assert.match(leaf.subjectAltName ?? '', new RegExp(`DNS:${name.replace(/\./g, '\\.')}`));
  const key = createPrivateKey(record.keyPem);
  assert.ok(leaf.checkPrivateKey(key), `${name}: key matches the leaf`);
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1', `${name}: a P-256 key`);
}

/** A Redis client for the stack's server. */
export function stackRedis(stack: Stack): Redis {
  return new Redis(stack.redis.url);
}
