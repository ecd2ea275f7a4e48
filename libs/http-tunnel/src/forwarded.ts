import type { HeaderPairs } from '@hopgate/wire';

export interface ForwardedInfo {
  /** The client's address as the ingress saw it. */
  clientIp: string;
  /** `https` or `http`: how the request reached the ingress. */
  proto: 'http' | 'https';
  /** The public Host header. */
  host: string;
}

/**
 * Sets X-Forwarded-For (appending to a list sent by a trusted load balancer is not
 * done: HopGate is the edge, so it replaces untrusted values), X-Forwarded-Proto and
 * X-Forwarded-Host. The `Host` header is kept as the public host.
 */
export function withForwardedHeaders(headers: HeaderPairs, info: ForwardedInfo, trustIncoming = false): HeaderPairs {
  let priorFor: string | undefined;
  const out: HeaderPairs = [];
  for (const pair of headers) {
    const name = pair[0];
    if (name === 'x-forwarded-for') {
      if (trustIncoming) priorFor = priorFor ? `${priorFor}, ${pair[1]}` : pair[1];
      continue;
    }
    if (name === 'x-forwarded-proto' || name === 'x-forwarded-host') {
      if (trustIncoming) out.push(pair);
      continue;
    }
    out.push(pair);
  }
  out.push(['x-forwarded-for', priorFor ? `${priorFor}, ${info.clientIp}` : info.clientIp]);
  if (!trustIncoming || !out.some(([n]) => n === 'x-forwarded-proto')) out.push(['x-forwarded-proto', info.proto]);
  if (!trustIncoming || !out.some(([n]) => n === 'x-forwarded-host')) out.push(['x-forwarded-host', info.host]);
  return out;
}
