/** Default deadline for `waitFor`, in milliseconds. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
/** Default polling interval for `waitFor`, in milliseconds. */
export const DEFAULT_WAIT_INTERVAL_MS = 20;

/**
 * Polls `condition` until it returns a truthy value (which is returned) or the deadline passes
 * (then throws with `what` in the message). No fixed sleeps in tests: poll a condition.
 */
export async function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  timeoutMs: number = DEFAULT_WAIT_TIMEOUT_MS,
  intervalMs: number = DEFAULT_WAIT_INTERVAL_MS,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const suffix = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
