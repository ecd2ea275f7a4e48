export { freeTcpPort, freeUdpPort } from './ports.js';
export { waitFor, DEFAULT_WAIT_TIMEOUT_MS, DEFAULT_WAIT_INTERVAL_MS } from './wait.js';
export { startRedis, startNats, type RunningServer } from './servers.js';
