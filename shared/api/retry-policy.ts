import { RETRYABLE_HTTP_STATUSES, rpcCodeInfo } from './rpc-codes.ts';

/** What one HTTP attempt ended with, as far as retrying is concerned. */
export type AttemptOutcome =
  /** The server answered with a non-2xx status (`rpcCode` from the body, if it had one). */
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly rpcCode?: number | undefined;
      readonly retryAfterMs?: number | undefined;
    }
  /** The connection failed, was refused or dropped (`errorCode` such as ECONNRESET, UND_ERR_SOCKET). */
  | { readonly kind: 'network'; readonly errorCode: string }
  /** No complete answer in time (our per-request timeout, or undici's headers/body timeout). */
  | { readonly kind: 'timeout' };

/** Decides whether to try again; see `createRetryPolicy`. */
export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  /**
   * `attempt` is the 1-based number of the attempt that just failed. Returns the delay in ms before
   * the next attempt, or undefined to give up.
   */
  shouldRetry(attempt: number, outcome: AttemptOutcome): number | undefined;
}

export interface RetryPolicyOptions {
  /** @default 4 */
  readonly maxAttempts?: number;
  /** Backoff before the 2nd attempt is between base/2 and base. @default 500 */
  readonly baseDelayMs?: number;
  /** @default 2 */
  readonly factor?: number;
  /** Upper bound of one backoff delay. @default 8000 */
  readonly maxDelayMs?: number;
  /** A server's Retry-After is honoured up to this many ms. @default 30000 */
  readonly maxRetryAfterMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * The REST retry rule of api.md §7: retry 429, 500, 502, 503, 504 (unless the body's rpc code says the
 * failure is permanent, e.g. DATA_LOSS), dropped or refused connections and timeouts; never any other
 * status. Backoff is exponential with *equal jitter* (half fixed, half random: `d/2 + random·d/2`, with
 * `d = min(max, base·factor^(attempt-1))`), which keeps a floor under each wait, unlike full jitter, so
 * a struggling server always gets some rest. A Retry-After the server sent replaces the backoff, capped.
 */
export function createRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const maxAttempts = options.maxAttempts ?? 4;
  const base = options.baseDelayMs ?? 500;
  const factor = options.factor ?? 2;
  const maxDelay = options.maxDelayMs ?? 8_000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 30_000;
  const random = options.random ?? Math.random;
  return {
    maxAttempts,
    shouldRetry(attempt, outcome) {
      if (attempt >= maxAttempts || !isTransient(outcome)) return undefined;
      if (outcome.kind === 'status' && outcome.retryAfterMs !== undefined) {
        return Math.min(Math.max(0, outcome.retryAfterMs), maxRetryAfter);
      }
      const ceiling = Math.min(maxDelay, base * factor ** (attempt - 1));
      return Math.round(ceiling / 2 + random() * (ceiling / 2));
    },
  };
}

/** True for outcomes a later attempt may fix (see createRetryPolicy). */
export function isTransient(outcome: AttemptOutcome): boolean {
  if (outcome.kind !== 'status') return true;
  if (!RETRYABLE_HTTP_STATUSES.has(outcome.status)) return false;
  return outcome.rpcCode === undefined || rpcCodeInfo(outcome.rpcCode)?.retryable !== false;
}

/**
 * Error codes of dropped or refused connections (node and undici). Timeouts are listed apart in
 * TIMEOUT_ERROR_CODES. Anything else (TLS failures, ENOTFOUND, invalid arguments) is not retried.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ETIMEDOUT',
]);

/** Error codes of an answer that did not come (or finish) in time. */
export const TIMEOUT_ERROR_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The `code` of an error or of its `cause` chain (undici wraps socket errors), if any. */
export function errorCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_ERROR_CODES.has(code) || TIMEOUT_ERROR_CODES.has(code)))
      return code;
    current = (current as { cause?: unknown }).cause;
  }
  const top = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof top === 'string' ? top : undefined;
}

/**
 * A Retry-After header in ms: delta-seconds (`"120"`) or an HTTP date (`"Wed, 21 Oct 2026 07:28:00
 * GMT"`, relative to `nowMs`). Undefined for a missing or unreadable value.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** A ProtoJSON Duration (`"2s"`, `"1.5s"`) in ms, for `google.rpc.RetryInfo.retryDelay`. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * 1000 + Math.floor(Number(`0.${m[2] ?? '0'}`) * 1000);
}
