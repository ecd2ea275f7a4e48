/** What a secret's value is replaced by on a log line. */
export const REDACT_CENSOR = '[redacted]';

/** Fields whose values never reach a log line: on the logged object and on each object in it. */
export const SECRET_FIELDS: readonly string[] = ['token', 'key', 'private_key', 'password', 'authorization'];

/** Headers whose values never reach a log line: in `headers` on the logged object and on each object in it. */
export const SECRET_HEADERS: readonly string[] = ['authorization', 'cookie'];

/**
 * The paths `redactSecrets` covers, in pino's redact syntax (`*` = any field of the logged
 * object): the fields in SECRET_FIELDS and `headers` SECRET_HEADERS, at the top and one level
 * down.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  ...SECRET_HEADERS.map((header) => `headers.${header}`),
  ...SECRET_HEADERS.map((header) => `*.headers.${header}`),
];

/** The key pino serializes with its error serializer (pino's default `errorKey`). */
const ERROR_KEY = 'err';

/**
 * `obj` with every REDACT_PATHS value replaced by REDACT_CENSOR; `obj` itself (no copy) when it
 * holds none, which is the case of nearly every line. The caller's objects are never changed:
 * what holds a secret is copied (shallowly) first. It is pino's `formatters.log` and
 * `formatters.bindings`, in place of pino's `redact` option: with a wildcard path pino runs its
 * redactor over the value of every field of every line (about 13 us a line), where this looks
 * at a few named fields of the object and of each object directly in it.
 *
 * An Error under `err` that holds a secret becomes an object whose prototype is the error, with
 * the censored fields its own: pino's error serializer still sees an Error (type, message,
 * stack, and its other fields through the prototype). Values interpolated into the message
 * (`%j`, `%o`) are not looked at: log objects as fields.
 */
export function redactSecrets<T extends object>(obj: T): T {
  return censored(obj, true, false) as T;
}

function censored(obj: object, top: boolean, errorShadow: boolean): object {
  const fields = obj as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  const copy = (): Record<string, unknown> => (out ??= errorShadow ? (Object.create(obj) as Record<string, unknown>) : { ...fields });
  for (const field of SECRET_FIELDS) if (fields[field] !== undefined) copy()[field] = REDACT_CENSOR;
  const headers = fields['headers'];
  if (isObject(headers)) {
    // At the top, `headers` is also one of the objects in it (`*.token` covers `headers.token`).
    const inner = top ? censored(headers, false, false) : headers;
    const withHeaders = censoredHeaders(inner as Record<string, unknown>);
    if (withHeaders !== headers) copy()['headers'] = withHeaders;
  }
  if (top) {
    for (const key in fields) {
      if (key === 'headers' || !Object.prototype.hasOwnProperty.call(fields, key)) continue;
      const value = fields[key];
      if (!isObject(value)) continue;
      const inner = censored(value, false, key === ERROR_KEY && value instanceof Error);
      if (inner !== value) copy()[key] = inner;
    }
  }
  return out ?? obj;
}

function censoredHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const header of SECRET_HEADERS) if (headers[header] !== undefined) (out ??= { ...headers })[header] = REDACT_CENSOR;
  return out ?? headers;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
