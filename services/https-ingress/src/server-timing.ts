/**
 * The opt-in `Server-Timing` response header (HOPGATE_SERVER_TIMING, W3C Server Timing): what
 * the access logs say about one request, for a developer in the browser's devtools.
 *   edge    the ingress's time from the request to the agent's response head
 *   origin  the local service's time to its response head, measured by the agent
 *   tunnel  edge minus origin: the ingress, NATS, the hub, DTLS and the agent's own work
 */

/** A duration in ms with microsecond precision. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The header value for a head that arrived `edgeMs` after the request; `originMs` when the agent sent it. */
export function serverTimingValue(edgeMs: number, originMs: number | undefined): string {
  const edge = `edge;dur=${roundMs(edgeMs)};desc="HopGate: request to response head"`;
  if (originMs === undefined) return edge;
  return `${edge}, origin;dur=${roundMs(originMs)};desc="local service", tunnel;dur=${roundMs(Math.max(0, edgeMs - originMs))};desc="HopGate path"`;
}
