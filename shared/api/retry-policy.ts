import {
  errorCodeOf,
  NETWORK_ERROR_CODES,
  parseRetryAfter,
  TIMEOUT_ERROR_CODES,
} from '../net/transient-failure.ts';
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

export { errorCodeOf, NETWORK_ERROR_CODES, parseRetryAfter, TIMEOUT_ERROR_CODES };

/** A ProtoJSON Duration (`"2s"`, `"1.5s"`) in ms, for `google.rpc.RetryInfo.retryDelay`. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * 1000 + Math.floor(Number(`0.${m[2] ?? '0'}`) * 1000);
}
