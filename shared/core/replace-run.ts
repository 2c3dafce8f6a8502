import type { CoreDeps } from './ports.ts';
import { retryPending } from './retry-plan.ts';
import { stopRetries } from './retry-stop.ts';
import { commit, finished, runFields, touch } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import { waitingRuns } from './run-queue.ts';
import { FINAL_STATUSES, type RunRecord } from './run-record.ts';

/**
 * `concurrency: "replace"` (design.md §4): the new run waits (QUEUED, `replaces` naming the holder)
 * while the run that holds the scope is cancelled; it ends CANCELLED with `replacedBy` and the error
 * "replaced by <runId>" once its operation is done, and the sweep that sees that hands the slot to the
 * new run and starts it (run-queue.ts). Runs that were already waiting in the scope are cancelled too:
 * the newest request wins, as with Airflow's `cancel_previous_runs`.
 *
 * Every step is idempotent (a compare-and-set that does nothing the second time, a Cancel that may be
 * re-sent), so a start that dies half way is completed by a redelivery or by the sweep's next look at
 * the waiting run.
 */
export async function replaceHolder(
  replacement: RunRecord,
  holderId: string,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<void> {
  const scope = replacement.concurrencyScope;
  if (scope === undefined) return;
  const now = deps.now();
  const by = replacement.runId;
  const replaced = (latest: RunRecord): RunRecord =>
    touch(
      latest.cancelReason === 'replaced' && latest.replacedBy === by
        ? latest
        : withEvent(latest, 'cancel-requested', now, `replaced by ${by}`),
      now,
      {
        cancelRequestedAt: latest.cancelRequestedAt ?? now.toISOString(),
        cancelReason: 'replaced',
        replacedBy: by,
      },
    );

  for (const waiting of await waitingRuns(scope, deps)) {
    if (waiting.runId === by || waiting.createdAt > replacement.createdAt) continue;
    await commit(deps, waiting, (latest) =>
      latest.status === 'QUEUED' ? finished(replaced(latest), now, 'CANCELLED') : undefined,
    );
  }

  const holder = await deps.ledger.get(holderId).catch(() => undefined);
  if (holder === undefined || holder.runId === by) return;
  if (FINAL_STATUSES.has(holder.status)) {
    if (retryPending(holder)) await stopRetries(holder, deps, 'replaced', by);
    return;
  }
  if (holder.status === 'QUEUED') {
    await commit(deps, holder, (latest) =>
      latest.status === 'QUEUED' ? finished(replaced(latest), now, 'CANCELLED') : undefined,
    );
    return;
  }
  const marked = await commit(deps, holder, (latest) => {
    if (FINAL_STATUSES.has(latest.status) || latest.status === 'QUEUED') return undefined;
    if (latest.cancelReason === 'replaced' && latest.replacedBy === by) return undefined;
    // A running run is checked at the next sweep, which records its ending as soon as Cancel took effect.
    return latest.status === 'RUNNING'
      ? { ...replaced(latest), nextCheckAt: now.toISOString() }
      : replaced(latest);
  });
  const current = marked.record;
  // A STARTING holder passes the cancel on as soon as it has an operation (start-run.ts).
  if (current.status !== 'RUNNING' || current.operationId === undefined) return;
  deps.log.info('cancelling a run replaced by a newer one', { ...runFields(current), replacedBy: by });
  await deps.operations
    .cancel(current.operationId, signal === undefined ? {} : { signal })
    .catch((error: unknown) => {
      // Best effort, like every Cancel: the replacement's next look at the queue sends it again.
      deps.log.warn('cancel of a replaced run failed; it will be sent again', {
        ...runFields(current),
        error,
      });
    });
}

/**
 * A waiting replacement whose holder still runs without having been asked to stop (the start that
 * queued it died before asking): asks again. Nothing when the holder is already being replaced.
 */
export async function reassertReplacement(
  replacement: RunRecord,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<void> {
  const scope = replacement.concurrencyScope;
  if (replacement.replaces === undefined || scope === undefined) return;
  const slot = await deps.ledger.getSlot(scope);
  if (slot === undefined || slot.holder === replacement.runId) return;
  const holder = await deps.ledger.get(slot.holder).catch(() => undefined);
  if (holder === undefined || (FINAL_STATUSES.has(holder.status) && !retryPending(holder))) return;
  // Re-sent only while the holder runs: Cancel of a running operation is best effort.
  await replaceHolder(replacement, slot.holder, deps, signal);
}
