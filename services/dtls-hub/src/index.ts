export { Hub, REJECT_GRACE_MS } from './hub.js';
export { AgentSession, GO_AWAY_GRACE_MS, BUSY_REFUSAL_LOG_INTERVAL_MS, type AgentSessionInfo } from './agent-session.js';
export { LogThrottle } from './log-throttle.js';
export { forwardRequest, type ForwardContext } from './request-forwarder.js';
export { HubCertificate, credentialsFingerprint, type HubCredentials, type HubCertificateOptions } from './hub-certificate.js';
