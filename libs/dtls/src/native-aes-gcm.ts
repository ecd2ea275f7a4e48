import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The AES-128-GCM addon of native/aes_gcm.c: one OpenSSL context per direction, so a record
 * costs only its nonce set-up and the AES work (about 1.4 us for 1,400 bytes here, against
 * 9-13 us for a node:crypto cipher object per record). Every length is checked in C.
 */
export interface NativeAesGcm {
  /** An opaque context holding one direction's key schedule (freed when it is collected). */
  createContext(key: Buffer, encrypt: boolean): NativeGcmContext;
  /** ciphertext || tag of `plaintext` into out[at, at + plaintext.length + 16); false when it does not fit. */
  seal(context: NativeGcmContext, nonce: Buffer, aad: Buffer, plaintext: Uint8Array, out: Buffer, at: number): boolean;
  /** The plaintext of record[at, at + length) (tag after it) into out[0, length); false unless the tag verifies. */
  open(context: NativeGcmContext, nonce: Buffer, aad: Buffer, record: Buffer, at: number, length: number, out: Buffer): boolean;
}
declare const nativeContextBrand: unique symbol;
export type NativeGcmContext = { readonly [nativeContextBrand]: true };

/** Which code protects records: the addon when it loads, node:crypto otherwise, or one forced. */
export const RecordCryptoMode = {
  Auto: 'auto',
  Native: 'native',
  Node: 'node',
} as const;
export type RecordCryptoMode = (typeof RecordCryptoMode)[keyof typeof RecordCryptoMode];

/** The environment variable that picks the mode (docs/configuration.md); `auto` when unset. */
export const RECORD_CRYPTO_ENV = 'HOPGATE_DTLS_RECORD_CRYPTO';
/** The addon's file name, as scripts/build-native.mjs writes it. */
export const NATIVE_ADDON_FILE = 'hopgate_aes_gcm.node';

export interface RecordCryptoBackend {
  /** What protects the records of new sessions. */
  backend: 'native' | 'node';
  /** The addon when `backend` is native. */
  binding: NativeAesGcm | null;
  /** Why the addon is not used, when it is not (for the start-up log line). */
  reason?: string;
}

/** The addon once looked for: the binding, or why there is none. */
interface AddonLoad {
  binding: NativeAesGcm | null;
  reason?: string;
}

/**
 * Where the addon may be: the package's native/build (dist/src/ is two folders below), or next
 * to this module's file (the agent's single-file bundle of deploy/docker/bundle.mjs puts it there).
 */
function addonCandidates(): string[] {
  return [new URL(`../../native/build/${NATIVE_ADDON_FILE}`, import.meta.url), new URL(`./${NATIVE_ADDON_FILE}`, import.meta.url)].map((url) =>
    fileURLToPath(url),
  );
}

function loadAddon(): AddonLoad {
  const file = addonCandidates().find((candidate) => fs.existsSync(candidate));
  if (!file) return { binding: null, reason: `${NATIVE_ADDON_FILE} was not built (no C compiler or Node headers at build time)` };
  try {
    const binding = createRequire(import.meta.url)(file) as NativeAesGcm;
    if (typeof binding.createContext !== 'function' || typeof binding.seal !== 'function' || typeof binding.open !== 'function') {
      return { binding: null, reason: `${file} is not the AES-GCM addon` };
    }
    return { binding };
  } catch (err) {
    return { binding: null, reason: `${file} did not load: ${(err as Error).message}` };
  }
}

/** Reads the mode from the environment: `auto` unless it names one; a typo is an error. */
export function recordCryptoModeFromEnv(env: NodeJS.ProcessEnv = process.env): RecordCryptoMode {
  const raw = env[RECORD_CRYPTO_ENV]?.trim().toLowerCase();
  if (!raw) return RecordCryptoMode.Auto;
  if (raw === RecordCryptoMode.Auto || raw === RecordCryptoMode.Native || raw === RecordCryptoMode.Node) return raw;
  throw new RangeError(`${RECORD_CRYPTO_ENV} must be auto, native or node, got ${JSON.stringify(env[RECORD_CRYPTO_ENV])}`);
}

let loaded: AddonLoad | undefined;

/** The addon, loaded once per process (null with the reason when it is not available). */
export function nativeAesGcm(): AddonLoad {
  loaded ??= loadAddon();
  return loaded;
}

/**
 * The backend for `mode`: `native` throws when the addon is missing (a start-up error the
 * operator asked for), `node` never loads it, `auto` takes the addon when it loads.
 */
export function recordCryptoBackend(mode: RecordCryptoMode = recordCryptoModeFromEnv()): RecordCryptoBackend {
  if (mode === RecordCryptoMode.Node) return { backend: 'node', binding: null, reason: `${RECORD_CRYPTO_ENV}=node` };
  const { binding, reason } = nativeAesGcm();
  if (binding) return { backend: 'native', binding };
  if (mode === RecordCryptoMode.Native) throw new Error(`${RECORD_CRYPTO_ENV}=native but the AES-GCM addon is not available: ${reason}`);
  return { backend: 'node', binding: null, reason };
}

let processBackend: RecordCryptoBackend | undefined;

/** The process-wide backend from the environment, decided at first use. */
export function defaultRecordCrypto(): RecordCryptoBackend {
  processBackend ??= recordCryptoBackend();
  return processBackend;
}
