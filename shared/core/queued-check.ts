import type { CoreDeps } from './ports.ts';
import { reassertReplacement } from './replace-run.ts';
import { type CommitResult, commit, runFields } from './run-commit.ts';
import { endWaiting, kickScope, waitLonger } from './run-queue.ts';
import type { RunRecord } from './run-record.ts';
import { driveStart } from './start-run.ts';

/**
 * The sweep's look at a waiting (QUEUED) run, every QUEUE_RECHECK_SECONDS and at its deadline. A run
 * normally leaves the queue when its holder's ending hands it the slot; this is what happens otherwise:
 * - past its deadline (or cancelled) it ends without ever starting (TIMED_OUT / CANCELLED);
 * - a replacement whose holder was never asked to stop (its start died) asks again;
 * - the queue is moved if a crash left the slot with a holder that no longer runs (kickScope); the run
 *   promoted (this one, or an older one) is started now;
 * - else it waits another interval.
 * Returns the record as it stands, and whether this look wrote its ending (for the caller's report).
 */
export async function checkQueued(
  record: RunRecord,
  deps: CoreDeps,
  options: { readonly signal?: AbortSignal; readonly attempts: number },
): Promise<CommitResult> {
  const now = deps.now();
  const ended = endWaiting(record, now);
  if (ended !== undefined) {
    return commit(
      deps,
      record,
      (latest) => (latest.status === 'QUEUED' ? endWaiting(latest, now) : undefined),
      options.attempts,
      { settlesReport: true },
    );
  }
  const scope = record.concurrencyScope;
  if (scope === undefined) return { record, written: false };
  await reassertReplacement(record, deps, options.signal);
  const promoted = await kickScope(scope, deps);
  if (promoted !== undefined) {
    try {
      const started = await driveStart(promoted, deps, options.signal);
      if (started.record.runId === record.runId) return { record: started.record, written: true };
    } catch (error) {
      deps.log.warn('start of a queued run failed; the sweep will retry it', {
        ...runFields(promoted),
        error,
      });
      if (promoted.runId === record.runId) return { record: promoted, written: true };
    }
  }
  // No read first: waitLonger's compare-and-set finds out if the steps above (or anyone) moved the run,
  // and then answers the run as it now stands.
  return { record: await waitLonger(record, deps, options.attempts), written: false };
}
