export { HOP_BY_HOP_HEADERS, pairsFromRaw, flattenHeaders, stripHopByHop } from './hop-by-hop.js';
export { withForwardedHeaders, forwardedElement, isForwardingHeader, FORWARDING_HEADERS } from './forwarded.js';
export { requestClient, entryAddress, type Arrival, type RequestClient } from './request-client.js';
export {
  encodeTunnelOpen,
  decodeTunnelOpen,
  encodeTunnelResponse,
  decodeTunnelResponse,
  type TunnelOpen,
} from './tunnel-envelope.js';
export { Coalescer, DEFAULT_COALESCE_BYTES } from './coalescer.js';
export { pipeStreams, prematureCloseError } from './pipe-streams.js';
