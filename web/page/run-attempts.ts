// How a retried run reads in the console (design.md §4 `retry`): which attempt a record is, and what
// comes after it. Pure, so test/web checks it without a browser.

import type { RunView } from './run-types.ts';
import { localTime } from './time-format.ts';

/**
 * The next attempt is scheduled and not yet started: this attempt's status is not the run's outcome
 * yet. The API sends `retryAt` only then; `retriedBy` is checked too for an older API that sent both.
 */
export const retryPending = (run: RunView): boolean =>
  run.retryAt !== undefined && run.retriedBy === undefined;

/** `2 (earlier: r1)`: the attempt number and the runIds of the attempts before it. */
export function attemptText(run: RunView): string | undefined {
  if (run.attempt === undefined) return undefined;
  const earlier =
    run.attempts !== undefined && run.attempts.length > 0 ? ` (earlier: ${run.attempts.join(', ')})` : '';
  return `${run.attempt}${earlier}`;
}

/** `attempt 2 at 2025-06-01 12:05:00` while the next attempt is due, else undefined. */
export function retryText(run: RunView): string | undefined {
  if (!retryPending(run)) return undefined;
  return `attempt ${(run.attempt ?? 1) + 1} at ${localTime(run.retryAt)}`;
}
