import { retryAtFor } from './retry-plan.ts';
import { withEvent } from './run-events.ts';
import type { RunRecord } from './run-record.ts';

/**
 * What the write that makes a run final adds to it, whoever writes it (a sweep, a status call, a
 * cancel, a rejected start): `retryAt` when the attempt is to be retried (retry-plan.ts), and the
 * reason of a run cancelled because another replaced it. Applied inside the compare-and-set, so the
 * ending and these facts land together or not at all.
 */
export function onEnding(record: RunRecord, now: Date): RunRecord {
  let ended = record;
  if (ended.status === 'CANCELLED' && ended.cancelReason === 'replaced' && ended.replacedBy !== undefined) {
    ended = { ...ended, error: { code: 'REPLACED', message: `replaced by ${ended.replacedBy}` } };
  }
  // Counted from the ending as recorded, so that `retryAt - finishedAt` is exactly the delay.
  const endedAt = ended.finishedAt === undefined ? now : new Date(ended.finishedAt);
  const retryAt = retryAtFor(ended, endedAt);
  if (retryAt !== undefined) ended = withEvent({ ...ended, retryAt }, 'retry-scheduled', now, retryAt);
  return ended;
}
