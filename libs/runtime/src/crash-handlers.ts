import type { Logger } from '@hopgate/log';

/** Exit status of a process that met an error nothing contained (EX_SOFTWARE, sysexits.h). */
export const CRASH_EXIT_CODE = 70;

/**
 * Last-resort handlers: an exception or a promise rejection that no code path contained is
 * logged at `fatal` with its stack, then the process exits with CRASH_EXIT_CODE so that its
 * supervisor (Kubernetes, systemd, docker --restart) starts a clean one. Carrying on after an
 * unknown failure could leave a half-updated state serving traffic; exiting silently would
 * hide the bug. Every request path contains its own errors; reaching this is a bug to fix.
 * Installed once per process; returns a function that removes them (tests).
 */
export function installCrashHandlers(logger: Logger, service: string, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  let crashed = false;
  const crash = (err: unknown, origin: 'uncaughtException' | 'unhandledRejection'): void => {
    if (crashed) return;
    crashed = true;
    const error = err instanceof Error ? err : new Error(`non-error value thrown: ${safeString(err)}`);
    logger.fatal({ err: error, origin, exit_code: CRASH_EXIT_CODE }, `${service} crashed (${origin}): exiting for a restart`);
    exit(CRASH_EXIT_CODE);
  };
  const onException = (err: Error): void => crash(err, 'uncaughtException');
  const onRejection = (reason: unknown): void => crash(reason, 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}
