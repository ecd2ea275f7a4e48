export { RedisKeys, DEFAULT_REDIS_PREFIX, escapeGlob } from './redis-keys.js';
export { NatsSubjects, DEFAULT_NATS_PREFIX } from './nats-subjects.js';
