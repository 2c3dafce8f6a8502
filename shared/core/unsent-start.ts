import type { CoreDeps } from './ports.ts';
import { type CommitResult, commit, finished } from './run-commit.ts';
import type { RunRecord } from './run-record.ts';

/**
 * A claim that never sent its start call (no `startSentAt`) and must not start any more (its deadline
 * passed, or a cancel was requested) is ended without an API call: nothing can be running for it.
 * Compare-and-set on a still-unsent STARTING record, so a starter that marks the call as sent first
 * wins, and then its start is re-driven and cancelled instead.
 */
export function mustNotStart(record: RunRecord, now: Date): boolean {
  return record.cancelRequestedAt !== undefined || Date.parse(record.deadline) <= now.getTime();
}

export function endUnsentStart(
  record: RunRecord,
  deps: Pick<CoreDeps, 'ledger' | 'log' | 'now'>,
  attempts = 5,
): Promise<CommitResult> {
  const now = deps.now();
  return commit(
    deps,
    record,
    (latest) => {
      if (latest.status !== 'STARTING' || latest.startSentAt !== undefined || !mustNotStart(latest, now)) {
        return undefined;
      }
      return latest.cancelRequestedAt !== undefined
        ? finished(latest, now, 'CANCELLED', {
            error: { code: 'CANCELLED', message: 'cancelled before it started' },
          })
        : finished(latest, now, 'FAILED', {
            error: { code: 'NOT_STARTED', message: 'the run could not be started before its deadline' },
          });
    },
    attempts,
  );
}
