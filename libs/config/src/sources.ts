import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { HopError, ErrorCode } from '@hopgate/errors';

/** The one place in HopGate that reads process.env. */
export function processEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

export type RawSettings = Record<string, unknown>;

/** Reads a YAML (or JSON) file into a plain object. */
export function readSettingsFile(file: string): RawSettings {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new HopError(ErrorCode.BadConfig, `cannot read config file ${file}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new HopError(ErrorCode.BadConfig, `config file ${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new HopError(ErrorCode.BadConfig, `config file ${file}: top level must be a mapping`);
  }
  return doc as RawSettings;
}

/**
 * Settings for a service: `HOPGATE_<KEY>` environment variables win over the same
 * `<key>` (lower case) in the optional YAML file named by `HOPGATE_CONFIG`.
 */
export class ServiceSettings {
  private readonly file: RawSettings;

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {
    const path = env['HOPGATE_CONFIG'];
    this.file = path ? readSettingsFile(path) : {};
  }

  /** The string value of `key` (e.g. `redis_url`), or undefined. */
  get(key: string): string | undefined {
    const fromEnv = this.env[`HOPGATE_${key.toUpperCase()}`];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const fromFile = this.file[key];
    if (fromFile === undefined || fromFile === null) return undefined;
    if (typeof fromFile === 'object') {
      throw new HopError(ErrorCode.BadConfig, `config key ${key} must be a scalar`);
    }
    return String(fromFile);
  }

  string(key: string, fallback: string): string {
    return this.get(key) ?? fallback;
  }

  optionalString(key: string): string | undefined {
    return this.get(key);
  }

  /** A positive integer (e.g. a duration in ms). */
  int(key: string, fallback: number): number {
    const raw = this.get(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      throw new HopError(ErrorCode.BadConfig, `HOPGATE_${key.toUpperCase()} must be a non-negative integer, got "${raw}"`);
    }
    return n;
  }

  /** `true` or `false` (also `1` / `0`, any case; a YAML boolean is read as its text). */
  bool(key: string, fallback: boolean): boolean {
    const raw = this.get(key);
    if (raw === undefined) return fallback;
    const value = raw.trim().toLowerCase();
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    throw new HopError(ErrorCode.BadConfig, `HOPGATE_${key.toUpperCase()} must be true or false, got "${raw}"`);
  }

  /**
   * A list: comma-separated text (environment or file), or in the file a YAML sequence of
   * scalars. Entries are trimmed; empty ones dropped.
   */
  list(key: string): string[] {
    const fromEnv = this.env[`HOPGATE_${key.toUpperCase()}`];
    const fromFile = this.file[key];
    let entries: string[];
    if (fromEnv !== undefined && fromEnv !== '') entries = fromEnv.split(',');
    else if (Array.isArray(fromFile)) {
      entries = fromFile.map((item: unknown) => {
        if (item === null || typeof item === 'object') throw new HopError(ErrorCode.BadConfig, `config key ${key} must be a list of scalars`);
        return String(item);
      });
    } else entries = (this.get(key) ?? '').split(',');
    return entries.map((e) => e.trim()).filter((e) => e !== '');
  }

  /** A non-negative integer, or undefined when the key is not set. */
  optionalInt(key: string): number | undefined {
    return this.get(key) === undefined ? undefined : this.int(key, 0);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const raw = this.get(key);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new HopError(ErrorCode.BadConfig, `HOPGATE_${key.toUpperCase()} must be one of ${allowed.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  }
}
