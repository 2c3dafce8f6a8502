import type { CoreDeps } from './ports.ts';
import { nextAttemptOf, nextAttemptRunId, retryPending } from './retry-plan.ts';
import { commit, runFields, touch } from './run-commit.ts';
import { FINAL_STATUSES, type RunRecord } from './run-record.ts';
import { driveStart } from './start-run.ts';

/**
 * Retries of failed runs: the steps that act (retry-plan.ts has the rules). A sweep that finds an
 * attempt whose `retryAt` has come:
 * 1. claims the retry on the earlier attempt: one compare-and-set sets `retriedBy` (the next attempt's
 *    runId, derived from the first attempt's key and the attempt number) and keeps the earlier attempt
 *    due for a start lease, so of two overlapping sweeps exactly one goes on, and a sweep killed after
 *    this step is repaired by the next one (repairRetry);
 * 2. creates the next attempt's claim (create-if-absent on its derived runId);
 * 3. hands the concurrency slot over to it (compare-and-set on the holder), when the run has one;
 * 4. starts it like any claim (driveStart): its start is marked as sent, then Execute with its own
 *    Idempotency-Key; a sweep killed mid-call leaves a STARTING claim the next sweep re-drives with the
 *    same key after its lease, so the retry is one operation however often it is re-driven.
 */

/**
 * Starts the next attempt of `prev` when its `retryAt` has come and its operation is done (a timed-out
 * attempt is followed until its Cancel took effect, so two attempts never run at once); returns `prev`
 * as it now stands.
 */
export async function startDueRetry(
  prev: RunRecord,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<RunRecord> {
  const now = deps.now();
  if (!retryPending(prev) || Date.parse(prev.retryAt ?? '') > now.getTime()) return prev;
  if (prev.operationId !== undefined && prev.operationDone !== true) return prev;
  const nextRunId = nextAttemptRunId(prev);
  const lease = new Date(now.getTime() + deps.settings.startRecoverySeconds * 1000).toISOString();
  const claim = await commit(
    deps,
    prev,
    (latest) =>
      retryPending(latest) && Date.parse(latest.retryAt ?? '') <= now.getTime()
        ? touch(latest, now, { retriedBy: nextRunId, nextCheckAt: lease })
        : undefined,
    0,
  );
  if (!claim.written) return claim.record;
  await launchAttempt(claim.record, deps, signal);
  return claim.record;
}

/**
 * A settle pass of an attempt whose retry was claimed: the next attempt exists (the sweep that claimed
 * it may have died before creating it) and holds the slot. One read when all is well.
 */
export async function repairRetry(prev: RunRecord, deps: CoreDeps, signal?: AbortSignal): Promise<void> {
  if (prev.retriedBy === undefined) return;
  const next = await deps.ledger.get(prev.retriedBy);
  if (next === undefined) {
    deps.log.warn('creating a retry whose starter died before it', {
      ...runFields(prev),
      retriedBy: prev.retriedBy,
    });
    await launchAttempt(prev, deps, signal);
    return;
  }
  await passSlot(prev, next, deps);
}

async function launchAttempt(prev: RunRecord, deps: CoreDeps, signal?: AbortSignal): Promise<void> {
  const created = await deps.ledger.create(nextAttemptOf(prev, deps.now(), deps.settings, true));
  const next = created.record;
  await passSlot(prev, next, deps);
  if (!created.created) return;
  deps.log.info('retry started', {
    ...runFields(next),
    attempt: next.attempt,
    maxAttempts: next.request.retry?.attempts,
    previousRunId: prev.runId,
  });
  try {
    await driveStart(next, deps, signal);
  } catch (error) {
    // Transient: the claim stays STARTING and due; the next sweep re-drives it with the same key.
    deps.log.warn('retry start failed; it will be tried again', { ...runFields(next), error });
  }
}

/**
 * The slot of the earlier attempt goes to the next one (only while the earlier one holds it). A free
 * slot is taken for the next attempt only while it has not ended: an attempt that ended has handed its
 * slot on (or freed it) in its own settle pass, and a later settle pass of an earlier attempt must not
 * take it back for it.
 */
async function passSlot(prev: RunRecord, next: RunRecord, deps: CoreDeps): Promise<void> {
  const scope = prev.concurrencyScope;
  if (scope === undefined) return;
  const since = deps.now().toISOString();
  if ((await deps.ledger.transferSlot(scope, prev.runId, next.runId, since)) !== undefined) return;
  if (FINAL_STATUSES.has(next.status)) return;
  const claim = await deps.ledger.acquireSlot(scope, next.runId, since);
  if (!claim.acquired && claim.slot.holder !== prev.runId && claim.slot.holder !== next.runId) {
    deps.log.warn('a retry runs without its concurrency slot: another run took it', {
      ...runFields(prev),
      scope,
      retriedBy: next.runId,
      holder: claim.slot.holder,
    });
  }
}
