// What the bench scripts read from the environment: one knob as a non-negative number.

/** `process.env[name]` as a non-negative number, or `fallback` when unset or empty; anything else throws. */
export function envNumber(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(text)}`);
  return n;
}
