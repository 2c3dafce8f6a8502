import type { LogLevelName } from '../config.ts';
import { type ErrorCode, isRunnerError, RunnerError } from '../errors.ts';
import { redactSecrets } from '../redact.ts';

/**
 * The one place that decides, per error code: the HTTP status, the log level, whether the message may
 * be shown to the caller, and whether a trigger should throw (so the platform redelivers) or drop the
 * message as one that can never succeed.
 */
interface ErrorPolicy {
  readonly status: number;
  readonly level: LogLevelName;
  /** Safe to show the message to the caller (our own messages are; unknown errors are not). */
  readonly expose: boolean;
  /** Trying again later may succeed: triggers throw so the platform redelivers. */
  readonly transient: boolean;
}

export const ERROR_POLICY: Readonly<Record<ErrorCode, ErrorPolicy>> = {
  INVALID_REQUEST: { status: 400, level: 'warn', expose: true, transient: false },
  REQUEST_TOO_LARGE: { status: 413, level: 'warn', expose: true, transient: false },
  METHOD_NOT_ALLOWED: { status: 405, level: 'info', expose: true, transient: false },
  IDEMPOTENCY_KEY_REUSED: { status: 409, level: 'warn', expose: true, transient: false },
  PROJECT_NOT_ALLOWED: { status: 403, level: 'warn', expose: true, transient: false },
  UNAUTHENTICATED: { status: 401, level: 'info', expose: true, transient: false },
  FORBIDDEN: { status: 403, level: 'warn', expose: true, transient: false },
  RUN_NOT_FOUND: { status: 404, level: 'info', expose: true, transient: false },
  RUN_ALREADY_RUNNING: { status: 409, level: 'info', expose: true, transient: false },
  RUN_ALREADY_FINISHED: { status: 409, level: 'info', expose: true, transient: false },
  API_ERROR: { status: 502, level: 'error', expose: true, transient: false },
  API_TIMEOUT: { status: 503, level: 'error', expose: true, transient: true },
  API_UNREACHABLE: { status: 503, level: 'error', expose: true, transient: true },
  API_BAD_RESPONSE: { status: 502, level: 'error', expose: true, transient: true },
  AUTH_UNAVAILABLE: { status: 503, level: 'error', expose: true, transient: true },
  LEDGER_ERROR: { status: 503, level: 'error', expose: true, transient: true },
  CONFIG_ERROR: { status: 500, level: 'error', expose: true, transient: true },
  NOTIFY_ERROR: { status: 502, level: 'warn', expose: true, transient: true },
  INTERNAL: { status: 500, level: 'error', expose: false, transient: true },
};

/** The policy of any thrown value; non-RunnerErrors are INTERNAL. */
export function policyOf(error: unknown): ErrorPolicy & { code: ErrorCode } {
  const code: ErrorCode = isRunnerError(error) ? error.code : 'INTERNAL';
  const policy = ERROR_POLICY[code];
  // A Yandex API error is transient when the API itself said so (429/5xx after our retries).
  if (code === 'API_ERROR' && (error as { retryable?: unknown }).retryable === true) {
    return { ...policy, code, status: 503, transient: true };
  }
  return { ...policy, code };
}

/** True when a trigger should throw (redeliver) rather than log and drop. */
export function isTransient(error: unknown): boolean {
  return policyOf(error).transient;
}

export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly field?: string;
    /** Every wrong field when the request has several (the first is the one in `message`). */
    readonly errors?: readonly { readonly field: string; readonly message: string }[];
    /** For Yandex API failures: what the API said, passed on. */
    readonly api?: Readonly<Record<string, unknown>>;
  };
  readonly run?: unknown;
}

/** The JSON error body for a caller: `{"error": {"code", "message", ...}}`. */
export function errorBody(error: unknown): ErrorBody {
  const policy = policyOf(error);
  if (!isRunnerError(error) || !policy.expose) {
    return { error: { code: policy.code, message: 'internal error; see the function log' } };
  }
  const details = error.details ?? {};
  const field = typeof details.field === 'string' ? details.field : undefined;
  const errors = Array.isArray(details.errors)
    ? (details.errors as { field: string; message: string }[]).map((item) => ({
        field: item.field,
        message: redactSecrets(item.message),
      }))
    : undefined;
  const api = apiFacts(error);
  return {
    error: {
      code: policy.code,
      // Messages may quote what the caller sent (an id): scrub it like any log line.
      message: redactSecrets(error.message),
      ...(field === undefined ? {} : { field }),
      ...(errors === undefined ? {} : { errors }),
      ...(api === undefined ? {} : { api }),
    },
    ...(details.run === undefined ? {} : { run: details.run }),
  };
}

function apiFacts(error: RunnerError): Record<string, unknown> | undefined {
  const e = error as unknown as Record<string, unknown>;
  if (typeof e.rpc !== 'string') return undefined;
  const facts: Record<string, unknown> = {};
  for (const key of [
    'api',
    'rpc',
    'httpStatus',
    'rpcCode',
    'rpcName',
    'apiMessage',
    'requestId',
    'serverTraceId',
  ]) {
    if (e[key] !== undefined) facts[key] = e[key];
  }
  return facts;
}

/** The `Allow` header of a METHOD_NOT_ALLOWED answer (its `details.allow`), else undefined. */
export function allowedMethods(error: unknown): string | undefined {
  if (!isRunnerError(error) || error.code !== 'METHOD_NOT_ALLOWED') return undefined;
  const allow = error.details?.allow;
  return Array.isArray(allow) ? allow.join(', ') : undefined;
}

/** Wraps an unknown thrown value so it can be logged and answered uniformly. */
export function asRunnerError(error: unknown): RunnerError {
  if (isRunnerError(error)) return error;
  return new RunnerError('INTERNAL', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
