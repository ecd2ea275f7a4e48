export { Hub, REJECT_GRACE_MS } from './hub.js';
export { AgentSession, GO_AWAY_GRACE_MS, BUSY_REFUSAL_LOG_INTERVAL_MS, type AgentSessionInfo } from './agent-session.js';
export { LogThrottle } from './log-throttle.js';
export { forwardRequest, type ForwardContext } from './request-forwarder.js';
export { HubCertificate, credentialsFingerprint, type HubCredentials, type HubCertificateOptions } from './hub-certificate.js';
export { AUTH_FAILED_REASON } from './hub.js';
export { AuthThrottle, AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_INTERVAL_MS, AUTH_THROTTLE_MAX_ADDRESSES, AUTH_THROTTLE_LOG_INTERVAL_MS, type AuthThrottleOptions, type Admission } from './auth-throttle.js';
export { throttleAddressOf, THROTTLE_IPV6_PREFIX_BITS } from './throttle-address.js';
