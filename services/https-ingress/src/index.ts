export { Ingress, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS } from './ingress.js';
export { proxyRequest, type ProxyContext } from './proxy-handler.js';
export { statusForCode, sendError } from './error-status.js';
export { normalizedHost, pathOnly, buildRequestHead } from './request-head.js';
export { redirectToHttps } from './redirect.js';
export { proxyUpgrade, SUPPORTED_UPGRADE } from './upgrade-handler.js';
export { writeRawError, rawResponseHead } from './raw-response.js';
