/**
 * The fuzz suite's two knobs, read from the environment in this one place:
 * - HOPGATE_FUZZ_SEED: replay a run (every failure message starts with `fuzz seed: N`);
 *   default a random seed.
 * - HOPGATE_FUZZ_CASES: HTTP/1.1 cases (default DEFAULT_FUZZ_CASES); HTTP/2 runs one case
 *   for every H2_CASE_RATIO of them.
 */
import { SeededRandom, MAX_SEED } from '@hopgate/testkit';

/** HTTP/1.1 cases of a default run: 4,000 take about 15 s on an idle 2-core machine, a minute when it is loaded. */
export const DEFAULT_FUZZ_CASES = 4_000;
/** HTTP/1.1 cases per HTTP/2 case. */
export const H2_CASE_RATIO = 8;

export interface FuzzSettings {
  seed: number;
  http1Cases: number;
  h2Cases: number;
}

function integer(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`${name} must be an integer in 0-${max}, got ${JSON.stringify(raw)}`);
  return value;
}

export function fuzzSettings(env: NodeJS.ProcessEnv = process.env): FuzzSettings {
  const seed = integer('HOPGATE_FUZZ_SEED', env['HOPGATE_FUZZ_SEED'], SeededRandom.randomSeed(), MAX_SEED);
  const http1Cases = integer('HOPGATE_FUZZ_CASES', env['HOPGATE_FUZZ_CASES'], DEFAULT_FUZZ_CASES, 10_000_000);
  return { seed, http1Cases, h2Cases: Math.ceil(http1Cases / H2_CASE_RATIO) };
}
