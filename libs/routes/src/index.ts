export { RouteTable } from './route-table.js';
export { parseRouteEntry, type RawRouteEntry, type RouteMatch, type RouteEntryError, type ParsedRouteEntry } from './route-entry.js';
export { diffRoutes, isEmptyDiff, type RouteDiff } from './route-diff.js';
export { parseHostPattern, requestHostName, dnsNameProblem, WILDCARD_HOST_PREFIX, type HostPattern, type HostPatternResult } from './host.js';
export { pathPrefixProblem, pathPrefixMatches } from './path-prefix.js';
export { parseRequestAuthority, type RequestAuthority, type RequestAuthorityResult } from './request-authority.js';
export { normalizeRequestPath, hasDotSegment, type RequestPathResult } from './request-path.js';
export { parseRouteTarget, formatRouteTarget, type RouteTarget, type RouteTargetResult } from './route-target.js';
export { MAX_PATH_PREFIX_LENGTH_CHARS, MAX_HOST_LENGTH_CHARS, MAX_LABEL_LENGTH_CHARS } from './limits.js';
export { FallbackTable, type RouteFallback, type FallbackBinding, type FallbackDiff, type RawPageRead } from './fallback-table.js';
export { parseFallbackEntry, parseFallbackValue, FALLBACK_PAGE_VALUE_PREFIX, type RawFallbackEntry, type ParsedFallbackEntry, type FallbackRef, type FallbackValueResult, type FallbackEntryResult } from './fallback-entry.js';
export {
  parseFallbackPage,
  pageNameProblem,
  pageStatusProblem,
  pageContentTypeProblem,
  MAX_FALLBACK_PAGE_BODY_BYTES,
  MAX_FALLBACK_CONTENT_TYPE_LENGTH_CHARS,
  DEFAULT_FALLBACK_RETRY_AFTER_S,
  MAX_FALLBACK_RETRY_AFTER_S,
  type FallbackPage,
  type RawFallbackPage,
  type FallbackPageResult,
} from './fallback-page.js';
export { readFallbackEntries, type FallbackSnapshot } from './read-fallbacks.js';
export { readRouteEntries, scanKeys, ROUTE_SCAN_COUNT, type RouteSnapshot } from './read-routes.js';
export { checkKeyspaceNotifications, flagsAnnounceHashEvents, openKeyspaceSubscriber, type KeyspaceNotifications, type KeyspaceSubscriberOptions } from './keyspace-notifications.js';
export {
  RouteLoader,
  DEFAULT_ROUTE_DEBOUNCE_MS,
  DEFAULT_ROUTE_START_TIMEOUT_MS,
  ROUTE_START_RETRY_MS,
  ROUTE_RECONNECT_STEP_MS,
  ROUTE_RECONNECT_MAX_DELAY_MS,
  MAX_DIFF_ROUTES_LOGGED,
  type RouteLoaderOptions,
  type RouteLoaderStatus,
} from './route-loader.js';
