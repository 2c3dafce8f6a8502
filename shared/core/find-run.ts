import { RunnerError } from '../errors.ts';
import type { CoreDeps } from './ports.ts';
import type { RunRecord } from './run-record.ts';

export type RunLookup = { readonly runId: string } | { readonly operationId: string };

/**
 * The run a status or cancel call is about. Only runs in the ledger: an operation these functions did
 * not start is "not found", so their service account cannot be used to touch other operations. For a
 * call through the API Gateway, a run of a project the caller may not act on is "not found" too, in the
 * same words as an absent one, so run ids of other projects cannot be probed (design.md §8).
 */
export async function findRun(
  lookup: RunLookup,
  deps: Pick<CoreDeps, 'ledger' | 'access'>,
  signal?: AbortSignal,
): Promise<RunRecord> {
  // Nothing is read for a caller whose credential is not known good.
  await deps.access?.verify(signal);
  const found =
    'runId' in lookup
      ? await deps.ledger.get(lookup.runId)
      : await deps.ledger.findByOperationId(lookup.operationId);
  const record =
    found === undefined || deps.access === undefined || (await deps.access.mayAct(found.projectId, signal))
      ? found
      : undefined;
  if (record === undefined) {
    const what = 'runId' in lookup ? `run ${lookup.runId}` : `operation ${lookup.operationId}`;
    throw new RunnerError('RUN_NOT_FOUND', `${what} is not in the run ledger`, {
      details: { field: 'runId' in lookup ? 'runId' : 'operationId' },
    });
  }
  return record;
}
