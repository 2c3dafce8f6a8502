import type { ConcurrencySlot } from '../ledger/run-ledger.ts';
import { CLAIM_ROUNDS, judgeHolder, takeOverSlot } from './concurrency-slot.ts';
import type { CoreDeps } from './ports.ts';
import { isIntermediate } from './retry-plan.ts';
import { commit, finished, runFields, touch, without } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import { FINAL_STATUSES, type RunRecord } from './run-record.ts';

/**
 * `concurrency: "queue"` (and the waiting half of `"replace"`), design.md §4, on the concurrency slot
 * of the reliability work: one item per scope, taken with create-if-absent and handed over only by a
 * compare-and-set on its holder.
 *
 * - A start that finds the slot held by a run that still runs records its run `QUEUED` (no API call).
 * - The sweep that settles the holder's ending (once its operation is done) hands the slot to the
 *   oldest waiting run of the scope (a transfer from the ended holder), moves that run to STARTING
 *   (compare-and-set), and starts it. A waiting run that ended meanwhile (cancelled, past its deadline)
 *   gets the slot only to pass it on at once.
 * - Waiting runs are open runs (they carry `nextCheckAt`), so they are found through the open index,
 *   never the history. Each is looked at again every QUEUE_RECHECK_SECONDS (and at its deadline): it
 *   ends TIMED_OUT there without starting, and otherwise it moves the queue itself if a crash left the
 *   slot with a holder that no longer runs (kickScope).
 */

/** How often the sweep looks at a waiting run (the hand-over at the holder's ending does not wait for it). */
export const QUEUE_RECHECK_SECONDS = 120;

/**
 * The slot of `scope` for a queue/replace start: undefined when `runId` took it (start now), else the
 * runId of the holder to wait for. A holder that no longer runs is taken over as for `skip`, unless runs
 * already wait for it: then this one waits behind them (the caller moves the queue right after it is
 * recorded), so a newcomer never overtakes older waiting runs.
 */
export async function claimOrWait(scope: string, runId: string, deps: CoreDeps): Promise<string | undefined> {
  let holder = '';
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const since = deps.now().toISOString();
    const claim = await deps.ledger.acquireSlot(scope, runId, since);
    if (claim.acquired) return undefined;
    holder = claim.slot.holder;
    if ((await holderBlocks(claim.slot, deps)).blocks) return holder;
    if ((await waitingRuns(scope, deps)).length > 0) return holder;
    if (await takeOverSlot(scope, holder, runId, since, deps)) return undefined;
  }
  return holder;
}

/** The waiting form of a claim that did not get its scope's slot. */
export function queuedRecord(claim: RunRecord, now: Date, holder: string, replacing: boolean): RunRecord {
  const waiting = without(claim, 'startSentAt');
  return withEvent(
    {
      ...waiting,
      status: 'QUEUED',
      nextCheckAt: recheckAt(waiting, now),
      ...(replacing ? { replaces: holder } : {}),
    },
    'queued',
    now,
    `${replacing ? 'replacing' : 'behind'} ${holder}`,
  );
}

function recheckAt(record: RunRecord, now: Date): string {
  return new Date(
    Math.min(now.getTime() + QUEUE_RECHECK_SECONDS * 1000, Date.parse(record.deadline)),
  ).toISOString();
}

/**
 * Whether the slot's holder keeps a waiting run waiting: it does while it counts as running for
 * `skip` (concurrency-slot.ts: starting, running, waiting for a retry), and also after its ending
 * while its operation may still run (a run timed out or replaced whose Cancel has not taken effect):
 * the next run starts only once the old operation is done.
 */
export async function holderBlocks(
  slot: ConcurrencySlot,
  deps: CoreDeps,
): Promise<{ readonly blocks: boolean; readonly holder?: RunRecord }> {
  const verdict = await judgeHolder(slot, deps);
  const holder = verdict.holder;
  if (verdict.running) return holder === undefined ? { blocks: true } : { blocks: true, holder };
  if (holder !== undefined && holder.operationId !== undefined && holder.operationDone !== true) {
    return { blocks: true, holder };
  }
  return holder === undefined ? { blocks: false } : { blocks: false, holder };
}

/** The runs waiting for `scope`, oldest first, read through the open index (never the history). */
export async function waitingRuns(scope: string, deps: Pick<CoreDeps, 'ledger'>): Promise<RunRecord[]> {
  const open = await deps.ledger.listOpen();
  return open
    .filter((run) => run.status === 'QUEUED' && run.concurrencyScope === scope)
    .sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.runId, b.runId));
}

/**
 * A waiting run that now holds its scope's slot moves to STARTING (compare-and-set on QUEUED), leased to
 * the caller, who starts it at once (so, like a fresh claim, it says the start call may be sent, unless
 * an image activation comes first). A waiting run past its deadline ends TIMED_OUT instead, one with a
 * cancel request CANCELLED: neither ever started. Returns the STARTING record, or undefined when the
 * run is not (any more) waiting: it ended, or someone else moved it on.
 */
export async function promote(queued: RunRecord, deps: CoreDeps): Promise<RunRecord | undefined> {
  const now = deps.now();
  const result = await commit(deps, queued, (latest) => {
    if (latest.status !== 'QUEUED') return undefined;
    const ended = endWaiting(latest, now);
    if (ended !== undefined) return ended;
    return touch(latest, now, {
      status: 'STARTING',
      nextCheckAt: new Date(now.getTime() + deps.settings.startRecoverySeconds * 1000).toISOString(),
      ...(latest.request.dockerId === undefined ? { startSentAt: now.toISOString() } : {}),
    });
  });
  if (!result.written || result.record.status !== 'STARTING') return undefined;
  deps.log.info('queued run promoted', {
    ...runFields(result.record),
    scope: result.record.concurrencyScope,
  });
  return result.record;
}

/** The ending of a waiting run that can never start, or undefined while it may still start. */
export function endWaiting(latest: RunRecord, now: Date): RunRecord | undefined {
  if (latest.cancelRequestedAt !== undefined) {
    return finished(latest, now, 'CANCELLED', {
      error: { code: 'CANCELLED', message: 'cancelled while queued; it never started' },
    });
  }
  if (Date.parse(latest.deadline) <= now.getTime()) {
    return finished(latest, now, 'TIMED_OUT', {
      error: {
        code: 'DEADLINE_EXCEEDED',
        message: `it waited in the queue past its deadline ${latest.deadline} and never started`,
      },
    });
  }
  return undefined;
}

/** Most waiting runs one hand-over passes over (each ended while it waited) before it gives up. */
const HAND_OVER_ROUNDS = 10;

/**
 * Hands the slot of `scope` from `from` (a holder that no longer runs) to the oldest waiting run and
 * promotes it; frees the slot when nobody waits. Every step is a compare-and-set on the slot's holder or
 * the run's status, so two sweeps doing this at once move the slot once: the one whose transfer fails
 * stops. Returns the promoted run, which the caller must start now.
 */
export async function handOffSlot(
  scope: string,
  from: string,
  deps: CoreDeps,
): Promise<RunRecord | undefined> {
  let holder = from;
  for (let round = 0; round < HAND_OVER_ROUNDS; round++) {
    const next = (await waitingRuns(scope, deps)).find((run) => run.runId !== holder);
    if (next === undefined) {
      await deps.ledger.releaseSlot(scope, holder);
      return undefined;
    }
    const moved = await deps.ledger.transferSlot(scope, holder, next.runId, deps.now().toISOString());
    if (moved === undefined) return undefined; // someone else moved it on
    deps.log.info('concurrency slot handed to a queued run', { scope, from: holder, runId: next.runId });
    const promoted = await promote(next, deps);
    if (promoted !== undefined) return promoted;
    // Not promoted here: it ended while waiting (then it holds the slot only to pass it on), or another
    // sweep promoted it first (kickScope) and starts it: then the slot is its own and stays with it.
    const latest = await deps.ledger.get(next.runId);
    if (latest === undefined || !FINAL_STATUSES.has(latest.status)) return undefined;
    holder = next.runId;
  }
  return undefined;
}

/**
 * Moves the queue of `scope` if it can: the slot's holder is a waiting run (a hand-over whose promotion
 * did not land) → promote it; the holder no longer runs (a crash between an ending and its hand-over) →
 * hand over; the slot is free while runs wait (a run queued just as the holder handed over) → give it
 * to the oldest. Returns a promoted run for the caller to start now, or undefined (nothing to do).
 */
export async function kickScope(scope: string, deps: CoreDeps): Promise<RunRecord | undefined> {
  const slot = await deps.ledger.getSlot(scope);
  if (slot === undefined) {
    const [oldest] = await waitingRuns(scope, deps);
    if (oldest === undefined) return undefined;
    const claim = await deps.ledger.acquireSlot(scope, oldest.runId, deps.now().toISOString());
    if (!claim.acquired) return undefined; // taken meanwhile: that run's ending moves the queue
    // Not promoted: it ended meanwhile (pass the slot on), or another sweep promoted it (keep it there).
    return (await promote(oldest, deps)) ?? kickEnded(scope, oldest.runId, deps);
  }
  const verdict = await holderBlocks(slot, deps);
  const holder = verdict.holder;
  if (holder?.status === 'QUEUED' && holder.runId === slot.holder) {
    return (await promote(holder, deps)) ?? kickEnded(scope, slot.holder, deps);
  }
  if (verdict.blocks) return undefined;
  return handOffSlot(scope, slot.holder, deps);
}

async function kickEnded(scope: string, holder: string, deps: CoreDeps): Promise<RunRecord | undefined> {
  const latest = await deps.ledger.get(holder);
  return latest !== undefined && FINAL_STATUSES.has(latest.status)
    ? handOffSlot(scope, holder, deps)
    : undefined;
}

/**
 * In the sweep that settles an ending: a run that holds its scope's slot hands it on once it is the
 * run's outcome (not an attempt to be retried: the slot goes to the next attempt) and its operation is
 * done. Returns a promoted run for the caller to start now.
 */
export async function handOffIfHeld(
  record: RunRecord,
  operationDone: boolean,
  deps: CoreDeps,
): Promise<RunRecord | undefined> {
  const scope = record.concurrencyScope;
  if (scope === undefined || !FINAL_STATUSES.has(record.status) || isIntermediate(record)) return undefined;
  if (!operationDone) return undefined;
  const slot = await deps.ledger.getSlot(scope);
  if (slot?.holder !== record.runId) return undefined;
  return handOffSlot(scope, record.runId, deps);
}

/** The next look at a waiting run that is still waiting: at the recheck interval, never past its deadline. */
export async function waitLonger(record: RunRecord, deps: CoreDeps, attempts: number): Promise<RunRecord> {
  const now = deps.now();
  return (
    await commit(
      deps,
      record,
      (latest) =>
        latest.status === 'QUEUED' ? touch(latest, now, { nextCheckAt: recheckAt(latest, now) }) : undefined,
      attempts,
    )
  ).record;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
