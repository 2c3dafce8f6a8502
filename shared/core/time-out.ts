import type { CoreDeps } from './ports.ts';
import { type CommitResult, commit, finished, runFields } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import type { RunRecord } from './run-record.ts';

/**
 * A run past its deadline: ask Yandex to cancel its operation and record TIMED_OUT at once (with the
 * operation id); since Cancel is best effort, later sweeps follow the operation until it is done and
 * re-send Cancel meanwhile, without reporting the run again.
 */
export async function timeOutRun(
  record: RunRecord,
  operationId: string,
  deps: CoreDeps,
  options: { readonly signal?: AbortSignal; readonly attempts: number; readonly settlesReport?: boolean },
): Promise<CommitResult> {
  let done = false;
  try {
    const operation = await deps.operations.cancel(
      operationId,
      options.signal === undefined ? {} : { signal: options.signal },
    );
    done = operation.done;
  } catch (error) {
    // Cancel is best effort; the run is still timed out and later sweeps re-send it.
    deps.log.warn('cancel of a timed-out run failed; will retry', { ...runFields(record), error });
  }
  const now = deps.now();
  return commit(
    deps,
    record,
    (latest) =>
      latest.status === 'RUNNING'
        ? finished(timedOutEvent(latest, now), now, 'TIMED_OUT', {
            cancelRequestedAt: latest.cancelRequestedAt ?? now.toISOString(),
            cancelReason: 'deadline',
            operationDone: done,
            error: {
              code: 'DEADLINE_EXCEEDED',
              message: `the run passed its deadline ${latest.deadline} and was cancelled`,
            },
          })
        : undefined,
    options.attempts,
    { settlesReport: options.settlesReport === true },
  );
}

/** The timeline's "cancel requested" for the deadline, unless a cancel was already asked for. */
function timedOutEvent(record: RunRecord, now: Date): RunRecord {
  return record.cancelRequestedAt === undefined
    ? withEvent(record, 'cancel-requested', now, 'deadline')
    : record;
}
