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
  /** The HTTP body is over the size limit (64 KiB); refused before it is parsed. */
  'REQUEST_TOO_LARGE',
  /** The HTTP method is not one the function answers; `details.allow` lists the ones it does. */
  'METHOD_NOT_ALLOWED',
  /** The same idempotency key was used with a different run request. */
  'IDEMPOTENCY_KEY_REUSED',
  /** The project is not in ALLOWED_PROJECTS. */
  'PROJECT_NOT_ALLOWED',
  /**
   * A call through the API Gateway without usable credentials: none, a malformed one, an unknown API key,
   * an invalid or expired IAM token (HTTP 401 with `WWW-Authenticate`).
   */
  'UNAUTHENTICATED',
  /** A known caller that may not act on the project it named (HTTP 403). */
  'FORBIDDEN',
  /** No run with this id (or operation id) is in the ledger. */
  'RUN_NOT_FOUND',
  /** `concurrency: "skip"` and a run of the same project+notebook (or job) is running. */
  'RUN_ALREADY_RUNNING',
  /** A cancel of a run that has already ended: nothing changes; `details.run` is the record. */
  'RUN_ALREADY_FINISHED',
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

/** One wrong field of a request: `message` is `<field>: <problem>`. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** One wrong field as the validators find it. */
export interface FieldProblem {
  readonly field: string;
  readonly problem: string;
}

const fieldMessage = (field: string, problem: string): string => (field ? `${field}: ${problem}` : problem);

/**
 * An invalid request: `field` is the JSON path of the (first) offending field (`inputVariables.MODE`).
 * When several fields are wrong, `errors` lists every one, the first being the one in `message`.
 */
export class InvalidRequestError extends RunnerError {
  readonly field: string;
  readonly errors: readonly FieldError[];
  constructor(
    field: string,
    problem: string,
    options: RunnerErrorOptions & { more?: readonly FieldProblem[] } = {},
  ) {
    const errors = [{ field, problem }, ...(options.more ?? [])].map((item) => ({
      field: item.field,
      message: fieldMessage(item.field, item.problem),
    }));
    const { more: _more, ...rest } = options;
    super('INVALID_REQUEST', fieldMessage(field, problem), {
      ...rest,
      details: { field, errors, ...options.details },
    });
    this.name = 'InvalidRequestError';
    this.field = field;
    this.errors = errors;
  }

  /** The error for a non-empty list of problems (the first one leads). */
  static of(problems: readonly FieldProblem[]): InvalidRequestError {
    const [first, ...more] = problems;
    if (first === undefined) throw new TypeError('InvalidRequestError.of needs at least one problem');
    return new InvalidRequestError(first.field, first.problem, { more });
  }

  /** For log lines: every wrong field, not only the first. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      field: this.field,
      errors: this.errors,
    };
  }
}

/** A body over the size limit, refused before it is parsed (HTTP 413). */
export class RequestTooLargeError extends RunnerError {
  readonly field: string;
  constructor(field: string, bytes: number, limit: number) {
    super('REQUEST_TOO_LARGE', `${field}: is ${bytes} bytes; at most ${limit} bytes are accepted`, {
      details: { field, bytes, limit },
    });
    this.name = 'RequestTooLargeError';
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
