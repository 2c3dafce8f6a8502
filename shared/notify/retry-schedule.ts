import { ConfigError } from '../errors.ts';

/** In-call retry settings of a sender. The sweep retries failed deliveries later on its own schedule. */
export interface DeliveryRetryOptions {
  /** Attempts in total, the first included (1 = no in-call retry). @default 3 */
  readonly attempts?: number;
  /** Backoff before the 2nd attempt lies between baseMs/2 and baseMs; doubles each time. @default 250 */
  readonly baseMs?: number;
  /** Upper bound of one backoff. @default 2000 */
  readonly capMs?: number;
  /**
   * A server's Retry-After up to this many ms is waited out; a longer one ends the call at once (the
   * sweep tries again later), since waiting minutes inside a function invocation helps nobody.
   * @default 10000
   */
  readonly maxRetryAfterMs?: number;
}

export type RetryDecision =
  | { readonly wait: number }
  | { readonly stop: 'attempts-exhausted' }
  | { readonly stop: 'retry-after-too-long'; readonly retryAfterMs: number };

/** Decides the wait between the attempts of one delivery. */
export interface RetrySchedule {
  readonly attempts: number;
  readonly maxRetryAfterMs: number;
  /** `attempt` is the 1-based attempt that just failed with a transient problem. */
  next(attempt: number, retryAfterMs?: number): RetryDecision;
}

/**
 * Exponential backoff with equal jitter (`d/2 + random·d/2`, `d = min(cap, base·2^(attempt-1))`): the
 * random half spreads senders apart, the fixed half gives a struggling receiver some rest every time.
 * A Retry-After from the server replaces the backoff when it is short enough.
 */
export function createRetrySchedule(
  options: DeliveryRetryOptions = {},
  random: () => number = Math.random,
): RetrySchedule {
  const attempts = positiveInteger('retry.attempts', options.attempts ?? 3, 1, 10);
  const base = positiveInteger('retry.baseMs', options.baseMs ?? 250, 0, 60_000);
  const cap = positiveInteger('retry.capMs', options.capMs ?? 2_000, 0, 300_000);
  const maxRetryAfterMs = positiveInteger(
    'retry.maxRetryAfterMs',
    options.maxRetryAfterMs ?? 10_000,
    0,
    300_000,
  );
  return {
    attempts,
    maxRetryAfterMs,
    next(attempt, retryAfterMs) {
      if (attempt >= attempts) return { stop: 'attempts-exhausted' };
      if (retryAfterMs !== undefined) {
        if (retryAfterMs > maxRetryAfterMs) return { stop: 'retry-after-too-long', retryAfterMs };
        return { wait: Math.max(0, retryAfterMs) };
      }
      const ceiling = Math.min(cap, base * 2 ** (attempt - 1));
      return { wait: Math.round(ceiling / 2 + random() * (ceiling / 2)) };
    },
  };
}

function positiveInteger(setting: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(setting, `${value} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export { abortableSleep as defaultSleep, parseRetryAfter } from '../net/transient-failure.ts';
