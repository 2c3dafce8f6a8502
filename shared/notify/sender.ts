import type { RunNotification } from './notification.ts';

/** One notification destination (webhook, queue). */
export interface Sender {
  /** Stable destination name, used as the key of `RunRecord.notifications`. */
  readonly name: string;
  /**
   * Delivers `notification` (with a few quick in-call retries). Resolves once the destination has
   * accepted it; rejects with a RunnerError `NOTIFY_ERROR` otherwise. Aborting `signal` stops at once.
   */
  send(notification: RunNotification, signal?: AbortSignal): Promise<void>;
}
