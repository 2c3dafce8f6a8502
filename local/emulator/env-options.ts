/**
 * Emulator options from environment variables, for `npm run emulator`. A bad value throws naming the
 * variable and the expected form.
 *
 * | variable | option | default |
 * |---|---|---|
 * | `EMULATOR_PORT` / `EMULATOR_HOST` | port / host | 8787 / 127.0.0.1 |
 * | `EMULATOR_DURATION_MS` | durationMs | 3000 |
 * | `EMULATOR_OUTCOME` | outcome | OK |
 * | `EMULATOR_TOKEN` | token | any bearer token |
 * | `EMULATOR_NOT_FOUND_GETS` | notFoundGetsPerOperation | 0 |
 * | `EMULATOR_ONE_RUN_PER_PROJECT` | oneRunPerProject (`true`/`false`) | false |
 * | `EMULATOR_OPEN_PATH` | openPath (`colon`/`slash`/`both`) | slash |
 * | `EMULATOR_CANCEL_METHODS` | cancelMethods (`get`/`post`/`both`) | get |
 * | `EMULATOR_OPEN_DURATION_MS` | openDurationMs | 3000 |
 * | `EMULATOR_CANCEL_DELAY_MS` | cancelDelayMs | 200 |
 * | `EMULATOR_MISSING_PROJECTS` | missingProjects (comma-separated) | none |
 */
import type { CancelMethods, EmulatorOptions, OpenPath, Outcome } from './types.ts';
import { OUTCOMES } from './types.ts';

export const DEFAULT_EMULATOR_PORT = 8787;

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

function integer(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const number = Number(raw);
  if (!/^\d+$/.test(raw) || number < min || number > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return number;
}

function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  normalise: (s: string) => string,
): T | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const normalised = normalise(raw);
  if (!allowed.includes(normalised as T)) {
    throw new RangeError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return normalised as T;
}

/** Reads the emulator's options from `env` (pass `process.env`). */
export function emulatorOptionsFromEnv(env: Env): EmulatorOptions {
  const options: EmulatorOptions = {
    port: integer(env, 'EMULATOR_PORT', 0, 65535) ?? DEFAULT_EMULATOR_PORT,
    host: value(env, 'EMULATOR_HOST') ?? '127.0.0.1',
  };
  const durationMs = integer(env, 'EMULATOR_DURATION_MS', 0, Number.MAX_SAFE_INTEGER);
  if (durationMs !== undefined) options.durationMs = durationMs;
  const outcome = oneOf<Outcome>(env, 'EMULATOR_OUTCOME', OUTCOMES, (s) => s.toUpperCase());
  if (outcome !== undefined) options.outcome = outcome;
  const token = value(env, 'EMULATOR_TOKEN');
  if (token !== undefined) options.token = token;
  const notFound = integer(env, 'EMULATOR_NOT_FOUND_GETS', 0, 1000);
  if (notFound !== undefined) options.notFoundGetsPerOperation = notFound;
  const oneRun = oneOf(env, 'EMULATOR_ONE_RUN_PER_PROJECT', ['true', 'false'], (s) => s.toLowerCase());
  if (oneRun !== undefined) options.oneRunPerProject = oneRun === 'true';
  const openPath = oneOf<OpenPath>(env, 'EMULATOR_OPEN_PATH', ['colon', 'slash', 'both'], (s) =>
    s.toLowerCase(),
  );
  if (openPath !== undefined) options.openPath = openPath;
  const cancelMethods = oneOf<CancelMethods>(env, 'EMULATOR_CANCEL_METHODS', ['get', 'post', 'both'], (s) =>
    s.toLowerCase(),
  );
  if (cancelMethods !== undefined) options.cancelMethods = cancelMethods;
  const openDuration = integer(env, 'EMULATOR_OPEN_DURATION_MS', 0, Number.MAX_SAFE_INTEGER);
  if (openDuration !== undefined) options.openDurationMs = openDuration;
  const cancelDelay = integer(env, 'EMULATOR_CANCEL_DELAY_MS', 0, Number.MAX_SAFE_INTEGER);
  if (cancelDelay !== undefined) options.cancelDelayMs = cancelDelay;
  const missing = value(env, 'EMULATOR_MISSING_PROJECTS');
  if (missing !== undefined) {
    options.missingProjects = missing
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
  }
  return options;
}
