import { RunnerError } from '../errors.ts';
import { isUnreadableRecord } from '../ledger/ledger-error.ts';
import type { ConcurrencySlot } from '../ledger/run-ledger.ts';
import type { CoreDeps } from './ports.ts';
import { toPublicRun } from './public-run.ts';
import { retryPending } from './retry-plan.ts';
import { actionOf, FINAL_STATUSES, type RunRecord, type RunRequest } from './run-record.ts';
import { endUnsentStart, mustNotStart } from './unsent-start.ts';

/**
 * `concurrency: "skip"` as one atomic step (design.md §4): a run claims its scope's slot in the ledger
 * (create-if-absent) BEFORE its record is created, so of any number of concurrent starts exactly one
 * gets it; the run frees it when it ends (run-commit.ts). A slot whose holder cannot run any more is
 * taken over by a compare-and-set transfer, so a crash never blocks a scope for good.
 */

/**
 * The scope a run competes in: its job (jobs-file runs); else, for an execute, its project and
 * notebook; for an `open`, the project's IDE (`open:<p>`: a project has one IDE session, so two Opens
 * of it are the same work); for an `activate`, the project's active image (`docker:<p>`: a project has
 * one active Docker image, so two activations in it, of the same image or not, race for one setting).
 * Open and activate scopes never meet an execute's: opening the IDE or switching images does not stop
 * a notebook run from starting, and `skip` promises only "not the same thing twice at once".
 */
export function scopeOf(request: RunRequest, job?: { readonly name: string }): string {
  if (job !== undefined) return `job:${job.name}`;
  switch (actionOf(request)) {
    case 'open':
      return `open:${request.projectId}`;
    case 'activate':
      return `docker:${request.projectId}`;
    case 'execute':
      return `project:${request.projectId}/${request.notebookId}`;
  }
}

/** Why a slot's holder no longer counts as running, or undefined while it does. */
export type HolderVerdict =
  | { readonly running: true; readonly holder?: RunRecord }
  | {
      readonly running: false;
      readonly reason: 'ended' | 'missing' | 'unreadable' | 'elsewhere' | 'never-started';
      /** The holder's record when it ended (`reason: 'ended'`): the latest attempt of a retried run. */
      readonly holder?: RunRecord;
    };

/**
 * Whether the holder of `slot` still counts as running: its record is STARTING, QUEUED or RUNNING
 * (a run past its deadline counts until a sweep has ended it). It does not when its record is final
 * (it ended without freeing the slot: killed after its last write), unreadable (set aside), claims
 * another scope, or is missing although the slot is older than a start lease (its starter died between
 * taking the slot and creating the record). A claim whose lease expired without sending its start,
 * past its deadline or cancelled, can never start: it is ended here (compare-and-set) and does not count.
 * An attempt that ended with a retry to come still counts: the run goes on (retry-plan.ts).
 */
export async function judgeHolder(slot: ConcurrencySlot, deps: CoreDeps): Promise<HolderVerdict> {
  let holder: RunRecord | undefined;
  try {
    holder = await deps.ledger.get(slot.holder);
  } catch (error) {
    if (isUnreadableRecord(error)) return { running: false, reason: 'unreadable' };
    throw error;
  }
  if (holder === undefined) {
    const age = deps.now().getTime() - Date.parse(slot.since);
    if (age > deps.settings.startRecoverySeconds * 1000) return { running: false, reason: 'missing' };
    // Its starter is between taking the slot and creating the record (milliseconds): wait for it, so
    // that the refusal can name the run.
    for (const ms of [25, 50, 100, 200]) {
      await deps.sleep(ms);
      holder = await deps.ledger.get(slot.holder).catch(() => undefined);
      if (holder !== undefined) break;
    }
    if (holder === undefined) return { running: true };
  }
  if (FINAL_STATUSES.has(holder.status)) return endedVerdict(holder, deps);
  const now = deps.now();
  if (
    holder.status === 'STARTING' &&
    holder.startSentAt === undefined &&
    mustNotStart(holder, now) &&
    (holder.nextCheckAt === undefined || Date.parse(holder.nextCheckAt) <= now.getTime())
  ) {
    const ended = await endUnsentStart(holder, deps, 0);
    if (ended.written) return { running: false, reason: 'never-started' };
    holder = ended.record;
    if (FINAL_STATUSES.has(holder.status)) return endedVerdict(holder, deps);
  }
  if (holder.concurrencyScope !== undefined && holder.concurrencyScope !== slot.scope) {
    return { running: false, reason: 'elsewhere' };
  }
  return { running: true, holder };
}

/**
 * A final holder: it still counts while its run goes on with another attempt (scheduled, or started and
 * not final: the slot is on its way to that attempt), followed along `retriedBy` (at most 10 attempts).
 */
async function endedVerdict(holder: RunRecord, deps: CoreDeps, depth = 0): Promise<HolderVerdict> {
  if (retryPending(holder)) return { running: true, holder };
  if (holder.retriedBy === undefined || depth >= 10) return { running: false, reason: 'ended', holder };
  const next = await deps.ledger.get(holder.retriedBy).catch(() => undefined);
  // Not created yet: the sweep that claimed the retry creates it (or repairs it after a crash).
  if (next === undefined) return { running: true, holder };
  if (!FINAL_STATUSES.has(next.status)) return { running: true, holder: next };
  return endedVerdict(next, deps, depth + 1);
}

/** Most rounds of "held by a dead run → transfer" before a start gives up as contended (or waits). */
export const CLAIM_ROUNDS = 4;

/**
 * Hands the slot of `scope` from a holder that no longer runs to `runId` (compare-and-set on the
 * holder), with the warning that says so; false when someone else moved or freed it meanwhile.
 */
export async function takeOverSlot(
  scope: string,
  from: string,
  runId: string,
  since: string,
  deps: Pick<CoreDeps, 'ledger' | 'log'>,
  reason?: string,
): Promise<boolean> {
  if ((await deps.ledger.transferSlot(scope, from, runId, since)) === undefined) return false;
  deps.log.warn('concurrency slot taken over from a run that no longer runs', {
    scope,
    runId,
    previousHolder: from,
    ...(reason === undefined ? {} : { reason }),
  });
  return true;
}

/**
 * Takes the slot of `scope` for `runId`, or throws RUN_ALREADY_RUNNING naming the run that holds it.
 * `describe` words the refusal (a job or a notebook).
 */
export async function claimSlot(
  scope: string,
  runId: string,
  deps: CoreDeps,
  describe: (holder: string, status: string) => string,
): Promise<void> {
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const claim = await deps.ledger.acquireSlot(scope, runId, deps.now().toISOString());
    if (claim.acquired) return;
    const slot = claim.slot;
    const verdict = await judgeHolder(slot, deps);
    if (verdict.running) {
      throw new RunnerError(
        'RUN_ALREADY_RUNNING',
        describe(
          slot.holder,
          verdict.holder === undefined
            ? 'STARTING'
            : retryPending(verdict.holder)
              ? `waiting to retry (attempt ${verdict.holder.attempt ?? 1} ended ${verdict.holder.status})`
              : verdict.holder.status,
        ),
        {
          details: {
            run:
              verdict.holder === undefined
                ? { runId: slot.holder, status: 'STARTING' }
                : toPublicRun(verdict.holder),
          },
        },
      );
    }
    if (await takeOverSlot(scope, slot.holder, runId, deps.now().toISOString(), deps, verdict.reason)) return;
    // Someone else moved or freed it meanwhile: look again.
  }
  throw new RunnerError('RUN_ALREADY_RUNNING', describe('another run', 'starting'), {
    details: { scope },
  });
}
