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

/** What a failed attempt tells the retry loop of a sender. */
export interface AttemptFailure {
  readonly problem: string;
  /** Another attempt within this call may succeed. */
  readonly inCallRetry: boolean;
  readonly retryAfterMs?: number | undefined;
  readonly cause?: unknown;
}

/** A failed delivery attempt as the senders describe it (what the error will carry). */
export interface DeliveryFailure extends AttemptFailure {
  /** A later sweep may succeed (recorded on the error for the core's logs). */
  readonly retryable: boolean;
  readonly httpStatus?: number | undefined;
  readonly errorCode?: string | undefined;
  readonly requestId?: string | undefined;
}

export interface FailedAttempt {
  readonly schedule: RetrySchedule;
  /** The 1-based attempt that just failed. */
  readonly attempt: number;
  readonly failure: AttemptFailure;
  /** Set when the caller aborted the attempt itself. */
  readonly aborted?: { readonly reason: unknown } | undefined;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal | undefined;
  /** Builds the error that ends the call; `retryable` overrides the failure's own verdict. */
  readonly fail: (problem: string, cause: unknown, retryable?: boolean) => Error;
}

/**
 * The one retry loop step of every sender: after a failed attempt, either throws (aborted, not worth
 * another attempt, out of attempts, or asked to wait longer than this call may) or waits for the next.
 */
export async function afterFailedAttempt(step: FailedAttempt): Promise<void> {
  const { schedule, failure } = step;
  if (step.aborted !== undefined) throw step.fail(failure.problem, step.aborted.reason);
  if (!failure.inCallRetry) throw step.fail(failure.problem, failure.cause);
  const decision = schedule.next(step.attempt, failure.retryAfterMs);
  if ('stop' in decision) {
    const extra =
      decision.stop === 'retry-after-too-long'
        ? `; asked to retry after ${Math.ceil(decision.retryAfterMs / 1000)} s, longer than the ${Math.round(schedule.maxRetryAfterMs / 1000)} s this call waits`
        : '';
    throw step.fail(`${failure.problem}${extra}`, failure.cause);
  }
  try {
    await step.sleep(decision.wait, step.signal);
  } catch (error) {
    throw step.fail(`aborted by the caller while waiting to retry (last: ${failure.problem})`, error, true);
  }
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
