import { downstreamOf, startDownstream } from './job-chain.ts';
import type { CoreDeps } from './ports.ts';
import { repairRetry } from './retry-start.ts';
import { runFields } from './run-commit.ts';
import { handOffIfHeld } from './run-queue.ts';
import { FINAL_STATUSES, type RunRecord } from './run-record.ts';
import { driveStart } from './start-run.ts';

/** How soon a sweep looks again at an ending whose follow-up failed (the ledger or the API failing). */
const FOLLOW_UP_RETRY_SECONDS = 60;

export interface FollowUp {
  /** When the ending must be looked at again (a step failed), as epoch ms. */
  readonly againAt?: number;
  /** The downstream jobs of this run are all started (or refused for good): record it. */
  readonly downstreamStarted?: boolean;
}

/**
 * What the sweep does for an ending in the pass that settles it, before the pass's last write (which
 * takes the run out of the open index when nothing else waits, so a step that fails keeps it due):
 * - an attempt whose retry was claimed: the next attempt exists and holds the slot (retry-start.ts);
 * - the run's outcome, its operation done: its concurrency slot goes to the oldest queued run of its
 *   scope, which starts now, or is freed (run-queue.ts);
 * - the outcome of a job's run: the jobs chained after it start, once (job-chain.ts).
 */
export async function followUpEnding(
  record: RunRecord,
  operationDone: boolean,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<FollowUp> {
  if (!FINAL_STATUSES.has(record.status)) return {};
  let failed = false;
  const attempt = async (what: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      failed = true;
      deps.log.warn(`${what} failed; the sweep will try again`, { ...runFields(record), error });
    }
  };
  if (record.retriedBy !== undefined)
    await attempt('retry hand-over', () => repairRetry(record, deps, signal));
  await attempt('concurrency slot hand-over', async () => {
    const promoted = await handOffIfHeld(record, operationDone, deps);
    if (promoted === undefined) return;
    await driveStart(promoted, deps, signal).catch((error: unknown) => {
      // Its claim stays STARTING and due: the next sweep re-drives it with the same key.
      deps.log.warn('start of a queued run failed; the sweep will retry it', {
        ...runFields(promoted),
        error,
      });
    });
  });
  let downstreamStarted: boolean | undefined;
  if (record.downstreamStartedAt === undefined && downstreamOf(record, deps.jobs ?? []).length > 0) {
    await attempt('start of chained jobs', async () => {
      downstreamStarted = await startDownstream(record, deps, signal);
      if (!downstreamStarted) failed = true;
    });
  }
  const now = deps.now().getTime();
  return {
    ...(failed ? { againAt: now + FOLLOW_UP_RETRY_SECONDS * 1000 } : {}),
    ...(downstreamStarted === true ? { downstreamStarted } : {}),
  };
}
