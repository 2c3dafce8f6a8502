import { RunnerError } from '../errors.ts';
import { findRun, type RunLookup } from './find-run.ts';
import { outcomeFields, outcomeOf } from './operation-outcome.ts';
import type { CoreDeps } from './ports.ts';
import { toPublicRun } from './public-run.ts';
import { retryPending } from './retry-plan.ts';
import { cancelUncreatedAttempt, stopRetries } from './retry-stop.ts';
import { commit, finished, touch } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import { endWaiting } from './run-queue.ts';
import { actionOf, FINAL_STATUSES, type RunRecord } from './run-record.ts';

/**
 * Cancels a run on request (design.md §6 cancel). A running run gets Operation.Cancel and becomes
 * CANCELLED once the operation reports done (the sweep, or this answer if it is done already). A run
 * still starting is marked, and cancelled as soon as it has an operation: its starter passes the cancel
 * on, or, if the starter died, the sweep re-drives the start with the same Idempotency-Key and cancels
 * the operation it finds. Only a claim that never sent its start and that nobody holds any more is
 * CANCELLED at once. A run that has already ended changes nothing: RUN_ALREADY_FINISHED, carrying the
 * record (design.md §6: 409 over HTTP; a redelivered cancel message is dropped).
 *
 * A run that waits (QUEUED) is cancelled at once: it never started. A cancel stops the remaining
 * attempts of a retried run, whichever attempt's runId it names: a retry not yet started is dropped
 * (and the ended attempt becomes the run's reported outcome), a started one is cancelled like any run.
 */
export async function cancelRun(lookup: RunLookup, deps: CoreDeps, signal?: AbortSignal): Promise<RunRecord> {
  const record = await findRun(lookup, deps, signal);
  if (record.status === 'QUEUED') {
    const now = deps.now();
    const result = await commit(deps, record, (latest) =>
      latest.status === 'QUEUED'
        ? endWaiting(touch(latest, now, { cancelRequestedAt: now.toISOString(), cancelReason: 'user' }), now)
        : undefined,
    );
    // It left the queue meanwhile (promoted): cancel it as it now is.
    if (result.record.status !== 'QUEUED' && !result.written)
      return cancelRun({ runId: record.runId }, deps, signal);
    return result.record;
  }
  if (FINAL_STATUSES.has(record.status) && record.retriedBy !== undefined) {
    const next = (await deps.ledger.get(record.retriedBy)) ?? (await cancelUncreatedAttempt(record, deps));
    if (FINAL_STATUSES.has(next.status) && next.cancelReason === 'user' && next.retriedBy === undefined) {
      return next;
    }
    return cancelRun({ runId: next.runId }, deps, signal);
  }
  if (FINAL_STATUSES.has(record.status) && retryPending(record)) {
    const stopped = await stopRetries(record, deps, 'user');
    // Not pending any more: the sweep started the retry meanwhile; cancel that attempt.
    return stopped ?? cancelRun({ runId: record.runId }, deps, signal);
  }
  if (FINAL_STATUSES.has(record.status)) {
    throw new RunnerError(
      'RUN_ALREADY_FINISHED',
      `run ${record.runId} has already finished (${record.status})`,
      {
        details: { run: toPublicRun(record) },
      },
    );
  }
  const now = deps.now();
  if (record.status === 'STARTING' || record.operationId === undefined) {
    const result = await commit(deps, record, (latest) => {
      if (latest.status !== 'STARTING') return undefined;
      const leaseExpired =
        latest.nextCheckAt === undefined || Date.parse(latest.nextCheckAt) <= now.getTime();
      const marked = touch(requested(latest, now), now, {
        cancelRequestedAt: now.toISOString(),
        cancelReason: 'user',
      });
      // Nobody holds the start and it never sent Execute: it cannot be running, so it is cancelled now.
      // A start that may have been sent is left to the sweep (due now, once the lease is over).
      return leaseExpired && latest.startSentAt === undefined
        ? finished(marked, now, 'CANCELLED', {
            error: { code: 'CANCELLED', message: 'cancelled before it started' },
          })
        : marked;
    });
    // It became RUNNING meanwhile: cancel the operation.
    if (result.record.status === 'RUNNING') return cancelRun({ runId: record.runId }, deps, signal);
    return result.record;
  }
  const operation = await deps.operations.cancel(record.operationId, signal === undefined ? {} : { signal });
  const outcome = outcomeOf(operation, actionOf(record));
  const after = deps.now();
  const result = await commit(deps, record, (latest) => {
    if (latest.status !== 'RUNNING') return undefined;
    const marked = touch(requested(latest, after), after, {
      cancelRequestedAt: latest.cancelRequestedAt ?? after.toISOString(),
      cancelReason: 'user',
      // Check again at the next sweep: the operation should end soon.
      nextCheckAt: after.toISOString(),
    });
    if (!outcome.done) return marked;
    return finished(marked, after, outcome.status, outcomeFields(outcome));
  });
  return result.record;
}

/** The timeline's "cancel requested", once per run (a repeated cancel request adds nothing). */
function requested(record: RunRecord, now: Date): RunRecord {
  return record.cancelRequestedAt === undefined ? withEvent(record, 'cancel-requested', now, 'user') : record;
}
