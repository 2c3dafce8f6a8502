import { createHash } from 'node:crypto';
import { cronOf, type ScheduledJob, slotDedupeKey } from '../schedule/tick-plan.ts';
import { REPORT_CLAIM_SECONDS } from './check-schedule.ts';
import type { CoreDeps } from './ports.ts';
import { logRunFinished, touch } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import { dedupeKeyOf, requestHashOf, runIdFor } from './run-identity.ts';
import { MISSED_SLOT_CODE, type RunRecord, type RunRequest } from './run-record.ts';

/**
 * Missed scheduled slots are reported once (issue #13 item 4), even when no tick came for hours.
 *
 * Each job has a watermark in the ledger: the latest slot a tick has handled (started, found started,
 * skipped as still running, or reported missed). It is one item of the ledger's slot kind (scope
 * `watermark:job:<name>`, its value `<slot>|<schedule hash>` in place of a holder), changed only by
 * compare-and-set. When a tick's latest slot of a job is not the watermark, every slot strictly between
 * the two never had a tick that could start it (a tick only ever considers a job's latest slot), and the
 * latest one itself is missed when it is older than the catch-up window: each of those with no run gets
 * a record in its run's place (the same runId, create-if-absent, so of any number of overlapping ticks
 * exactly one reports it, and a late tick can never start it), FAILED with error `MISSED`; its creator
 * logs the warning "scheduled slot missed" naming the job and the slot, and the check function's sweep
 * sends it as a `run.missed` notification. Then the watermark moves to the latest slot.
 *
 * Cost: a warm instance remembers the watermark it last saw per job, so a tick reads or writes nothing
 * for a job whose latest slot has not moved (a daily job: 1,439 ticks of 1,440). When the slot moves:
 * one conditional write (the watermark), plus one read on an instance that has not seen this job yet;
 * plus, per missed slot, a create and a write. A watermark written by another schedule (the jobs file
 * changed) is taken as a first sight: nothing before it is reported.
 */

/** The scope of a job's watermark item (the ledger's slot kind). */
export const WATERMARK_SCOPE_PREFIX = 'watermark:job:';

/** Most missed slots of one job reported one by one per tick; older ones are summed up in the oldest. */
export const MAX_MISSED_LISTED = 10;

/** What a warm execute instance remembers between ticks: the watermark value it last saw per job. */
export interface SlotWatermarks {
  get(job: string): string | undefined;
  set(job: string, mark: string): void;
}

export function createSlotWatermarks(): SlotWatermarks {
  const seen = new Map<string, string>();
  return { get: (job) => seen.get(job), set: (job, mark) => void seen.set(job, mark) };
}

const scheduleHash = (schedule: string): string =>
  createHash('sha256').update(schedule).digest('hex').slice(0, 12);

/** The stored value of a watermark at `slot` for `schedule`. */
export function watermarkOf(slot: Date, schedule: string): string {
  return `${slot.toISOString()}|${scheduleHash(schedule)}`;
}

/** The slot a stored watermark holds, when it was written for `schedule` (else a first sight). */
function slotOf(mark: string | undefined, schedule: string): number | undefined {
  if (mark === undefined) return undefined;
  const [iso, hash] = mark.split('|');
  if (hash !== scheduleHash(schedule) || iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Rounds of "the watermark moved under us → read it again". */
const CAS_ROUNDS = 3;

/**
 * After a tick handled the latest slot `latest` of `job` (`tooOld`: it is past the catch-up window, so
 * the tick did not try it), reports the slots missed since the watermark and moves the watermark to
 * `latest`.
 */
export async function advanceWatermark(
  job: ScheduledJob<RunRequest>,
  latest: Date,
  tooOld: boolean,
  now: Date,
  deps: CoreDeps,
  memory: SlotWatermarks,
): Promise<void> {
  const mark = watermarkOf(latest, job.schedule);
  if (memory.get(job.name) === mark) return;
  const scope = `${WATERMARK_SCOPE_PREFIX}${job.name}`;
  let known = memory.get(job.name);
  for (let round = 0; round < CAS_ROUNDS; round++) {
    const current = known ?? (await deps.ledger.getSlot(scope))?.holder;
    const since = slotOf(current, job.schedule);
    if (since !== undefined && since >= latest.getTime()) {
      // Another tick got here first (or this instance is behind): nothing to report.
      if (current !== undefined) memory.set(job.name, current);
      return;
    }
    if (since !== undefined) await reportMissed(job, since, latest, tooOld, now, deps);
    const at = now.toISOString();
    const moved =
      current === undefined
        ? (await deps.ledger.acquireSlot(scope, mark, at)).acquired
        : (await deps.ledger.transferSlot(scope, current, mark, at)) !== undefined;
    if (moved) {
      memory.set(job.name, mark);
      return;
    }
    known = undefined;
  }
}

/** The slots of `job` after `sinceMs` and before `latest` (newest first, at most MAX_MISSED_LISTED + 1). */
function slotsBetween(job: ScheduledJob<RunRequest>, sinceMs: number, latest: Date): Date[] {
  const cron = cronOf(job);
  const found: Date[] = [];
  let before = new Date(latest.getTime() - 60_000);
  while (found.length <= MAX_MISSED_LISTED) {
    const slot = cron.latestAtOrBefore(before);
    if (slot === undefined || slot.getTime() <= sinceMs) break;
    found.push(slot);
    before = new Date(slot.getTime() - 60_000);
  }
  return found;
}

async function reportMissed(
  job: ScheduledJob<RunRequest>,
  sinceMs: number,
  latest: Date,
  latestTooOld: boolean,
  now: Date,
  deps: CoreDeps,
): Promise<void> {
  const between = slotsBetween(job, sinceMs, latest);
  const truncated = between.length > MAX_MISSED_LISTED;
  const listed = between.slice(0, MAX_MISSED_LISTED).reverse();
  const catchUp = deps.settings.scheduleCatchUpMinutes;
  const missed = listed.map((slot, i) => ({
    slot,
    why:
      `no tick came before its next slot ${(listed[i + 1] ?? latest).toISOString()}` +
      (i === 0 && truncated
        ? `; earlier slots since ${new Date(sinceMs).toISOString()} were missed too (not listed one by one)`
        : ''),
  }));
  if (latestTooOld) {
    missed.push({ slot: latest, why: `no tick came within its catch-up window of ${catchUp} minutes` });
  }
  for (const { slot, why } of missed) {
    const record = missedSlotRecord(job, slot, now, why);
    const created = await deps.ledger.create(record);
    if (!created.created) continue; // it ran (or another tick reported it)
    logRunFinished(deps, created.record);
    // Reported: the sweep delivers the run.missed notifications, then takes it out of the open index.
    await deps.ledger
      .update(
        touch(withEvent(created.record, 'reported', now, 'log'), now, {
          reportedAt: now.toISOString(),
          nextCheckAt: now.toISOString(),
        }),
      )
      .catch(() => undefined);
  }
}

/**
 * The record standing in a missed slot's place: the runId the slot's run would have had, FAILED with
 * error `MISSED` and no operation. Created with its report claimed (like any ending, run-commit.ts), so
 * that if its creator dies before logging it, a sweep logs it.
 */
export function missedSlotRecord(
  job: ScheduledJob<RunRequest>,
  slot: Date,
  now: Date,
  why: string,
): RunRecord {
  const dedupeKey = dedupeKeyOf({ kind: 'schedule', key: slotDedupeKey(job.name, slot) });
  const at = now.toISOString();
  const slotText = slot.toISOString();
  const record: RunRecord = {
    runId: runIdFor(dedupeKey),
    dedupeKey,
    requestHash: requestHashOf(job.run),
    request: job.run,
    trigger: 'schedule',
    ...(job.run.action === undefined ? {} : { action: job.run.action }),
    projectId: job.run.projectId,
    ...(job.run.notebookId === undefined ? {} : { notebookId: job.run.notebookId }),
    status: 'FAILED',
    error: {
      code: MISSED_SLOT_CODE,
      message: `scheduled slot ${slotText} of job ${job.name} was never started: ${why}`,
    },
    createdAt: at,
    updatedAt: at,
    finishedAt: at,
    deadline: at,
    nextCheckAt: new Date(now.getTime() + REPORT_CLAIM_SECONDS * 1000).toISOString(),
    checks: 0,
    job: { name: job.name, slot: slotText },
    version: 1,
  };
  return withEvent(record, 'finished', now, 'MISSED');
}
