export { CertManager } from './cert-manager.js';
export { AccountStore, AccountField, type AcmeAccount } from './account-store.js';
export { CertLock, CERT_LOCK_TTL_MS, type HeldCertLock } from './cert-lock.js';
export { AcmeIssuer, CHALLENGE_TTL_MS, ACME_HTTP_TIMEOUT_MS, ACME_POLL_MAX_MS, ACME_POLL_ATTEMPTS, CERT_KEY_CURVE, type IssuedCertificate, type AcmeIssuerOptions } from './acme-issuer.js';
export { acmeTransportError, lastErrorOf, MAX_LAST_ERROR_CHARS } from './acme-error.js';
export { CertSync, type SyncSummary, type CertSyncDeps } from './cert-sync.js';
export { runIssueJob, isCurrent, type IssueOutcome, type IssueJobDeps } from './issue-job.js';
export {
  IssueQueue,
  issueJobId,
  retryDelayMs,
  ISSUE_QUEUE_NAME,
  ISSUE_JOB_NAME,
  SCAN_JOB_NAME,
  RENEWAL_SCHEDULER_ID,
  ISSUE_ATTEMPTS,
  MAX_RETRY_DELAY_MS,
  ISSUE_CONCURRENCY,
  WORKER_CLOSE_GRACE_MS,
} from './issue-queue.js';
export { wantedNames, notIssuableReason, type WantedNames } from './wanted-names.js';
export { mirrorToCache, cachePaths, CACHE_KEY_FILE_MODE, CACHE_CERT_FILE_MODE, CACHE_DIR_MODE } from './cache-mirror.js';
export { mirrorAccountKey, mirrorAccountKeyPaths, ACCOUNT_CACHE_FOLDER } from './cache-mirror.js';
export { CacheRestore, readCachedCertificate, readCachedAccountKey, type CachedCertificate, type CacheMiss, type CacheRestoreDeps } from './cache-restore.js';
