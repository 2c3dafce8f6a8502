import pLimit from 'p-limit';
import { FINAL_STATUSES } from '../ledger/run-record.ts';
import { checkRun } from './check-run.ts';
import type { CoreDeps } from './ports.ts';
import { runFields } from './run-commit.ts';

export interface SweepSummary {
  /** Runs that were due. */
  readonly due: number;
  /** Runs looked at (less than `due` when the invocation ran out of time). */
  readonly checked: number;
  /** Runs that reached a final status in this sweep. */
  readonly finished: number;
  readonly stillRunning: number;
  readonly failures: number;
  readonly durationMs: number;
}

/**
 * The per-minute sweep (design.md §6 check/timer): reads only the runs that are due (the ledger's
 * open-run index), checks them concurrently with at most `checkConcurrency` API calls in flight, and
 * stops taking new runs when `signal` fires (the function's time is nearly up); the rest stay due.
 */
export async function sweep(deps: CoreDeps, signal?: AbortSignal): Promise<SweepSummary> {
  const started = deps.now();
  const dueBy = new Date(started.getTime() + deps.settings.checkDueSlackSeconds * 1000);
  const due = await deps.ledger.listDue(dueBy, deps.settings.sweepLimit);
  const limit = pLimit(deps.settings.checkConcurrency);
  let checked = 0;
  let finished = 0;
  let stillRunning = 0;
  let failures = 0;
  await Promise.all(
    due.map((record) =>
      limit(async () => {
        if (signal?.aborted) return;
        checked++;
        try {
          const after = await checkRun(record, deps, {
            settle: true,
            attempts: 0,
            ...(signal === undefined ? {} : { signal }),
          });
          if (!FINAL_STATUSES.has(record.status) && FINAL_STATUSES.has(after.status)) finished++;
          if (after.status === 'RUNNING' || after.status === 'STARTING') stillRunning++;
        } catch (error) {
          failures++;
          deps.log.error('sweep could not check a run', { ...runFields(record), error });
        }
      }),
    ),
  );
  const summary = {
    due: due.length,
    checked,
    finished,
    stillRunning,
    failures,
    durationMs: deps.now().getTime() - started.getTime(),
  };
  deps.log[due.length > 0 ? 'info' : 'debug']('sweep done', summary);
  return summary;
}
