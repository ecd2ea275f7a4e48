/** `status_class` label values: `1xx` .. `5xx`, or `none` when no status went out (the client left first). */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'none';

/** The class of an HTTP status (RFC 9110 §15); `none` for a status outside 100..599 or no status at all. */
export function statusClassOf(status: number | undefined): StatusClass {
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 599) return 'none';
  return `${Math.floor(status / 100)}xx` as StatusClass;
}
