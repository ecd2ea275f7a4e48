import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** File modes: the key is readable by the owner only; folders too (they hold keys). */
export const CACHE_KEY_FILE_MODE = 0o600;
export const CACHE_CERT_FILE_MODE = 0o644;
export const CACHE_DIR_MODE = 0o700;

/** The files of one name in the cache folder (`<dir>/<name>/fullchain.pem`, `privkey.pem`). */
export function cachePaths(dir: string, name: string): { folder: string; fullchain: string; privkey: string } {
  const folder = path.join(dir, name);
  return { folder, fullchain: path.join(folder, 'fullchain.pem'), privkey: path.join(folder, 'privkey.pem') };
}

async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, text, { mode });
    await fs.chmod(tmp, mode); // writeFile's mode is filtered by the umask
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Mirrors an issued certificate to `<dir>/<name>/` (the certbot layout): each file is
 * written to a temporary name and renamed, so a reader never sees half a file. The key
 * is replaced before the chain.
 */
export async function mirrorToCache(dir: string, name: string, chainPem: string, keyPem: string): Promise<void> {
  const paths = cachePaths(dir, name);
  await fs.mkdir(paths.folder, { recursive: true, mode: CACHE_DIR_MODE });
  await writeAtomically(paths.privkey, keyPem, CACHE_KEY_FILE_MODE);
  await writeAtomically(paths.fullchain, chainPem, CACHE_CERT_FILE_MODE);
}

/** The folder of the ACME account key in the cache folder: `_` cannot start a certificate's host name. */
export const ACCOUNT_CACHE_FOLDER = '_acme-account';

/** The account key's files: `<dir>/_acme-account/key.pem` and `directory.txt` (the ACME directory it belongs to). */
export function mirrorAccountKeyPaths(dir: string): { folder: string; key: string; directory: string } {
  const folder = path.join(dir, ACCOUNT_CACHE_FOLDER);
  return { folder, key: path.join(folder, 'key.pem'), directory: path.join(folder, 'directory.txt') };
}

/**
 * Mirrors the ACME account key (and its directory URL) to the cache folder, unless the same
 * key is there already: a Redis that lost its data gets the same account back, not a new one.
 */
export async function mirrorAccountKey(dir: string, directoryUrl: string, keyPem: string): Promise<void> {
  const paths = mirrorAccountKeyPaths(dir);
  const same = await Promise.all([fs.readFile(paths.key, 'utf8'), fs.readFile(paths.directory, 'utf8')]).then(
    ([key, directory]) => key === keyPem && directory.trim() === directoryUrl,
    () => false,
  );
  if (same) return;
  await fs.mkdir(paths.folder, { recursive: true, mode: CACHE_DIR_MODE });
  await writeAtomically(paths.key, keyPem, CACHE_KEY_FILE_MODE);
  await writeAtomically(paths.directory, `${directoryUrl}\n`, CACHE_CERT_FILE_MODE);
}
