import pLimit from 'p-limit';
import { checkRun } from './check-run.ts';
import type { CoreDeps } from './ports.ts';
import { runFields } from './run-commit.ts';
import { FINAL_STATUSES, type RunRecord } from './run-record.ts';

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

/** Runs read from the ledger at a time: bounds a sweep's memory whatever the number of due runs. */
export const SWEEP_PAGE_SIZE = 500;

/**
 * The per-minute sweep (design.md §6 check/timer): reads only the runs that are due (the ledger's
 * open-run index), a page at a time, checks them concurrently with at most `checkConcurrency` API calls
 * in flight, and stops taking new runs when `signal` fires (the function's time is nearly up) or after
 * `sweepLimit` runs; the rest stay due for the next tick.
 *
 * Paging needs no cursor: a checked run's next check moves past `dueBy`, so it drops out of the next
 * page by itself. A run whose update did not land (another sweep won, the ledger failed) is still due
 * and would come back: those are remembered and skipped, and each page asks for that many more.
 */
export async function sweep(deps: CoreDeps, signal?: AbortSignal): Promise<SweepSummary> {
  const started = deps.now();
  const dueBy = new Date(started.getTime() + deps.settings.checkDueSlackSeconds * 1000);
  const limit = pLimit(deps.settings.checkConcurrency);
  const seen = new Set<string>();
  let stuck = 0;
  let due = 0;
  let checked = 0;
  let finished = 0;
  let stillRunning = 0;
  let failures = 0;
  const checkOne = async (record: RunRecord) => {
    if (signal?.aborted) {
      deps.sweepObserver?.unchecked(record);
      return;
    }
    checked++;
    try {
      const after = await checkRun(record, deps, {
        settle: true,
        attempts: 0,
        ...(signal === undefined ? {} : { signal }),
      });
      deps.sweepObserver?.checked(record, after);
      if (!FINAL_STATUSES.has(record.status) && FINAL_STATUSES.has(after.status)) finished++;
      if (after.status === 'RUNNING' || after.status === 'STARTING') stillRunning++;
      if (after.nextCheckAt !== undefined && Date.parse(after.nextCheckAt) <= dueBy.getTime()) stuck++;
    } catch (error) {
      failures++;
      stuck++;
      deps.sweepObserver?.unchecked(record, error);
      deps.log.error('sweep could not check a run', { ...runFields(record), error });
    }
  };
  while (seen.size < deps.settings.sweepLimit && !signal?.aborted) {
    const size = Math.min(SWEEP_PAGE_SIZE, deps.settings.sweepLimit - seen.size);
    const asked = size + stuck;
    const listed = await deps.ledger.listDue(dueBy, asked);
    const page = listed.filter((record) => !seen.has(record.runId));
    if (page.length === 0) break;
    for (const record of page) seen.add(record.runId);
    due += page.length;
    await Promise.all(page.map((record) => limit(() => checkOne(record))));
    // A page short of what was asked held every run then due: no second listing (a Document API Query)
    // only to learn that. A run that falls due while the sweep runs is checked at the next tick.
    if (listed.length < asked) break;
  }
  const summary = {
    due,
    checked,
    finished,
    stillRunning,
    failures,
    durationMs: deps.now().getTime() - started.getTime(),
  };
  deps.log[due > 0 ? 'info' : 'debug']('sweep done', summary);
  return summary;
}
