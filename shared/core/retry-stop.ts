import { reportClaimUntil } from './check-schedule.ts';
import type { CoreDeps } from './ports.ts';
import { nextAttemptOf, retryPending } from './retry-plan.ts';
import { commit, logRunFinished, runFields, touch, without } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import type { RunRecord } from './run-record.ts';
import { endUnsentStart } from './unsent-start.ts';

/**
 * Stopping the remaining attempts of a retried run (a cancel request, or a replacement): the rules are
 * in retry-plan.ts, starting the next attempt in retry-start.ts.
 */

/**
 * A cancel (or a replacement) of an attempt whose retry is scheduled but not started: the retry is
 * dropped (compare-and-set, so it excludes the sweep's claim of it) and this attempt's ending becomes
 * the run's outcome, reported now: the "run finished" line, then `reportedAt`; the sweep delivers the
 * notifications and hands the slot on. Returns the record, or undefined when the retry was no longer
 * pending (the caller follows `retriedBy`).
 */
export async function stopRetries(
  prev: RunRecord,
  deps: CoreDeps,
  reason: 'user' | 'replaced',
  replacedBy?: string,
): Promise<RunRecord | undefined> {
  const now = deps.now();
  const result = await commit(deps, prev, (latest) => {
    if (!retryPending(latest)) return undefined;
    const stopped = withEvent(without(latest, 'retryAt', 'reportedAt'), 'cancel-requested', now, reason);
    return touch(stopped, now, {
      cancelRequestedAt: latest.cancelRequestedAt ?? now.toISOString(),
      cancelReason: reason,
      ...(replacedBy === undefined ? {} : { replacedBy }),
      // The report is claimed by this writer, as at any ending (run-commit.ts).
      nextCheckAt: reportClaimUntil(now),
    });
  });
  if (!result.written) return retryPending(result.record) ? result.record : undefined;
  deps.log.info('retries stopped', { ...runFields(result.record), reason });
  logRunFinished(deps, result.record);
  const reported = await deps.ledger
    .update(touch(result.record, now, { reportedAt: now.toISOString(), nextCheckAt: now.toISOString() }))
    .catch(() => undefined);
  return reported ?? result.record;
}

/**
 * A cancel that follows `retriedBy` to an attempt the sweep claimed but has not created yet: this
 * creates it, already cancelled (create-if-absent on the same derived runId, so either the sweep's
 * claim or this one is stored, never both). Returns the attempt as stored.
 */
export async function cancelUncreatedAttempt(prev: RunRecord, deps: CoreDeps): Promise<RunRecord> {
  const now = deps.now();
  const claim = nextAttemptOf(prev, now, deps.settings, false);
  const created = await deps.ledger.create({
    ...withEvent(claim, 'cancel-requested', now, 'user'),
    cancelRequestedAt: now.toISOString(),
    cancelReason: 'user',
  });
  if (!created.created) return created.record;
  return (await endUnsentStart(created.record, deps)).record;
}
