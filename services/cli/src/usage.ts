/** Exit codes of the `hopgate` CLI. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const USAGE = `Usage: hopgate <command>

  client add <id> [--replace]        register a client; prints its new token once
                                     (--replace: new token for an existing client)
  client rm <id>                     remove a client (and its session record)
  client ls                          list client ids
  route set <host> <path> <client>/<service>
                                     route https://<host><path>... to a client's service
                                     (<host> may be *.example.com: one-label wildcard)
  route rm <host> [<path>]           remove one route, or every route of <host>
  route ls [<host>]                  list routes and their fallbacks (invalid entries are
                                     reported on stderr)
  route fallback set <host> <path> <client>/<service>
                                     while the route's client is offline, relay its requests
                                     to another client's service instead
  route fallback page <host> <path> <name> [--body-file F [--status 503]
                     [--content-type 'text/html; charset=utf-8'] [--retry-after 60]]
                                     while the route's client is offline, answer with the
                                     static page <name> (--body-file writes it, at most 64 KiB;
                                     status 2xx or 5xx)
  route fallback rm <host> [<path>]  remove one route's fallback, or every one of <host>
  session ls                         list live agent sessions (one line per instance) and their hubs
  hub ls                             list live hubs
  cert ls                            list certificates: status, expiry, renewal, issuer, last error
  cert renew <name>                  make the renewal of <name> due now (the cert-manager
                                     orders a new certificate at its next renewal pass)
  cert rm <name>                     delete the certificate record of <name>
  help                               this text

Environment: HOPGATE_REDIS_URL (default redis://127.0.0.1:6379),
HOPGATE_REDIS_PREFIX (default hopgate:), HOPGATE_CONFIG (optional YAML file).
Exit codes: 0 success, 1 failure, 2 usage error. Key layout: docs/redis.md.
`;

/** A mistake in the command line: printed with a hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command that ran but could not do what was asked (e.g. nothing to remove): exit code 1. */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}
