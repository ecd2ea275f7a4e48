export { TunnelAgent, AGENT_VERSION, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_STABLE_SESSION_MS, type AgentState } from './agent.js';
export { Backoff } from './backoff.js';
export { serveOriginRequest, type OriginRequestContext } from './origin-request.js';
export { originTimeoutsOf, type OriginTimeouts } from './origin-timeouts.js';
