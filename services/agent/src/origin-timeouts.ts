import type { AgentConfig } from '@hopgate/config';

/** How long the agent waits on a local service; 0 means no limit. All in ms. */
export interface OriginTimeouts {
  /** `origin_connect_timeout_ms`: TCP connect to the local service (requests and upgrades). */
  connectMs: number;
  /** `response_header_timeout_ms`: request sent -> complete response head (requests and upgrades). */
  responseHeaderMs: number;
  /** `body_idle_timeout_ms`: longest silence in the middle of a response body (not WebSockets). */
  bodyIdleMs: number;
}

export function originTimeoutsOf(config: AgentConfig): OriginTimeouts {
  return {
    connectMs: config.originConnectTimeoutMs,
    responseHeaderMs: config.responseHeaderTimeoutMs,
    bodyIdleMs: config.bodyIdleTimeoutMs,
  };
}

/** The messages the browser (504) and the agent's log see; one wording for requests and upgrades. */
export function connectTimeoutMessage(service: string, where: string, ms: number): string {
  return `local service "${service}" at ${where} did not accept the connection within ${ms} ms`;
}

export function responseHeaderTimeoutMessage(service: string, ms: number): string {
  return `local service "${service}" sent no response headers within ${ms} ms`;
}

export function bodyIdleTimeoutMessage(service: string, ms: number): string {
  return `local service "${service}" sent no body data for ${ms} ms: response cut`;
}
