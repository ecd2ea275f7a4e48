import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ManagedProcess, REPO_ROOT, serviceMain, waitFor, type LogRecord, type Stack } from '@hopgate/testkit';

/** A file of deploy/ (the deployment material operators copy), as text. */
export function readDeployFile(relative: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, 'deploy', relative), 'utf8');
}

/**
 * A random password for a test user. It starts with a letter: nats-server parses the value of a
 * `$VARIABLE` in its config as a config value, so one starting with a digit ("7Xk...") is read as a
 * malformed number and the server refuses to start (seen: one run in a few dozen).
 */
export function randomPassword(): string {
  return `p${crypto.randomBytes(18).toString('base64url')}`;
}

/** Lower-case hex SHA-256 of a password: the `#<hash>` form of a Redis ACL file. */
export function sha256Hex(text: string): string {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Fills the `${NAME}` placeholders of a deploy/ template as `envsubst` would, and fails on a
 * placeholder without a value (a deployment would ship it unfilled).
 */
export function fillPlaceholders(template: string, values: Record<string, string>): string {
  const filled = template.replace(/\$\{([A-Z0-9_]+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for placeholder ${whole}`);
    return value;
  });
  return filled;
}

/** How a service process ended: its exit code and the fatal log line it wrote. */
export interface ServiceExit {
  code: number | null;
  fatal: LogRecord | undefined;
  stderr: string;
}

/** Time a service that cannot start gets to exit, in ms. */
export const FAILED_START_EXIT_TIMEOUT_MS = 15_000;

/**
 * Starts one more process of `service` against the stack with `env` on top of the stack's own
 * settings, and waits for it to exit (it is expected to fail at start).
 */
export async function runUntilExit(stack: Stack, service: 'https-ingress' | 'dtls-hub' | 'cert-manager', name: string, env: Record<string, string>): Promise<ServiceExit> {
  const proc = new ManagedProcess(name, process.execPath, [serviceMain(service)], env, path.join(stack.logDir, `${name}.log`));
  try {
    await waitFor(`${name} exits`, () => proc.exited, FAILED_START_EXIT_TIMEOUT_MS);
  } finally {
    await proc.kill();
  }
  await waitFor(`${name} output read`, () => proc.child.stdout?.readableEnded !== false);
  return { code: proc.child.exitCode, fatal: proc.records.find((r) => r.level === 'fatal'), stderr: proc.stderr };
}
