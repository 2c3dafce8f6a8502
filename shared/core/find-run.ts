import { RunnerError } from '../errors.ts';
import type { CoreDeps } from './ports.ts';
import type { RunRecord } from './run-record.ts';

export type RunLookup = { readonly runId: string } | { readonly operationId: string };

/**
 * The run a status or cancel call is about. Only runs in the ledger: an operation these functions did
 * not start is "not found", so their service account cannot be used to touch other operations.
 */
export async function findRun(lookup: RunLookup, deps: Pick<CoreDeps, 'ledger'>): Promise<RunRecord> {
  const record =
    'runId' in lookup
      ? await deps.ledger.get(lookup.runId)
      : await deps.ledger.findByOperationId(lookup.operationId);
  if (record === undefined) {
    const what = 'runId' in lookup ? `run ${lookup.runId}` : `operation ${lookup.operationId}`;
    throw new RunnerError('RUN_NOT_FOUND', `${what} is not in the run ledger`, {
      details: { field: 'runId' in lookup ? 'runId' : 'operationId' },
    });
  }
  return record;
}
