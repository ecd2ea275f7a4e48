export { TunnelAgent, AGENT_VERSION, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_STABLE_SESSION_MS, REHOME_JITTER_MAX_MS, type AgentState } from './agent.js';
export { Backoff } from './backoff.js';
export { HubPicker, HUB_FAILURE_COOLDOWN_MIN_MS, HUB_FAILURE_COOLDOWN_MAX_MS, type HubCandidate, type HubResolver, type HubPickerOptions } from './hub-picker.js';
export { serveOriginRequest, type OriginRequestContext } from './origin-request.js';
export { originTimeoutsOf, type OriginTimeouts } from './origin-timeouts.js';
