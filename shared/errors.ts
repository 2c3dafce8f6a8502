/**
 * The one error family of datasphere-runner. Every error the product raises on purpose is a
 * `RunnerError` with a stable `code`; `shared/triggers/error-response.ts` maps each code to an HTTP
 * status and a log level in one table, and nothing else serialises errors.
 *
 * Recognise errors with `isRunnerError` (it compares the brand, not only `instanceof`, so that it works
 * across two copies of this module, e.g. a bundle and a test).
 */
export const ERROR_CODES = [
  /** The request (body, query, event) is malformed; the message names the field. */
  'INVALID_REQUEST',
  /** The same idempotency key was used with a different run request. */
  'IDEMPOTENCY_KEY_REUSED',
  /** The project is not in ALLOWED_PROJECTS. */
  'PROJECT_NOT_ALLOWED',
  /** No run with this id (or operation id) is in the ledger. */
  'RUN_NOT_FOUND',
  /** `concurrency: "skip"` and a run of the same project+notebook (or job) is running. */
  'RUN_ALREADY_RUNNING',
  /** A Yandex API answered with an error (4xx, or 5xx after retries). */
  'API_ERROR',
  /** A Yandex API call timed out (after retries). */
  'API_TIMEOUT',
  /** A Yandex API could not be reached (connection refused/reset, DNS), after retries. */
  'API_UNREACHABLE',
  /** A Yandex API answered 2xx with a body that is not what the API promises. */
  'API_BAD_RESPONSE',
  /** No IAM token could be obtained. */
  'AUTH_UNAVAILABLE',
  /** The run ledger failed (I/O, conflict that could not be resolved, bad answer). */
  'LEDGER_ERROR',
  /** A setting (environment variable, jobs file) is invalid. */
  'CONFIG_ERROR',
  /** A notification destination failed. */
  'NOTIFY_ERROR',
  /** Anything else: a bug. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const BRAND = Symbol.for('datasphere-runner.RunnerError');

export interface RunnerErrorOptions extends ErrorOptions {
  /** Extra, non-secret facts for logs and error bodies (field name, project id...). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class RunnerError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: RunnerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RunnerError';
    this.code = code;
    this.details = options.details;
  }
}

/** True for any RunnerError (or subclass), even one created by another copy of this module. */
export function isRunnerError(value: unknown): value is RunnerError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** An invalid request: `field` is the JSON path of the offending field (`inputVariables.MODE`). */
export class InvalidRequestError extends RunnerError {
  readonly field: string;
  constructor(field: string, problem: string, options: RunnerErrorOptions = {}) {
    super('INVALID_REQUEST', field ? `${field}: ${problem}` : problem, {
      ...options,
      details: { field, ...options.details },
    });
    this.name = 'InvalidRequestError';
    this.field = field;
  }
}

/** A bad setting: names the variable (or jobs file entry) and the expected form. */
export class ConfigError extends RunnerError {
  readonly setting: string;
  constructor(setting: string, problem: string, options: RunnerErrorOptions = {}) {
    super('CONFIG_ERROR', `${setting}: ${problem}`, { ...options, details: { setting, ...options.details } });
    this.name = 'ConfigError';
    this.setting = setting;
  }
}
