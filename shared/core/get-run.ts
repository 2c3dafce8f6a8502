import { checkRun } from './check-run.ts';
import { findRun, type RunLookup } from './find-run.ts';
import type { CoreDeps } from './ports.ts';
import { runFields } from './run-commit.ts';
import type { RunRecord } from './run-record.ts';

/**
 * A run's record for a status call, refreshed from the Operation API when the run is not finished.
 * If the refresh fails, the stored record is answered (and the failure logged): a status call is more
 * useful slightly stale than failing while Yandex is briefly unavailable.
 */
export async function getRun(lookup: RunLookup, deps: CoreDeps, signal?: AbortSignal): Promise<RunRecord> {
  const record = await findRun(lookup, deps, signal);
  if (record.status !== 'RUNNING') return record;
  try {
    return await checkRun(record, deps, {
      settle: false,
      attempts: 2,
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    deps.log.warn('status refresh failed; answering the stored record', { ...runFields(record), error });
    return record;
  }
}
