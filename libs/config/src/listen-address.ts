import { HopError, ErrorCode } from '@hopgate/errors';

/** A `host:port` pair. IPv6 hosts are written `[::1]:443`. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (host defaults to `defaultHost`). */
export function parseHostPort(value: string, what: string, defaultHost = '0.0.0.0'): ListenAddress {
  const text = value.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) throw new HopError(ErrorCode.BadConfig, `${what}: expected host:port, got "${value}"`);
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? defaultHost : m[2]);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new HopError(ErrorCode.BadConfig, `${what}: port out of range in "${value}"`);
  }
  return { host, port };
}

export function formatHostPort(addr: ListenAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
