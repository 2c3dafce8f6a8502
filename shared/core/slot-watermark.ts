import { createHash } from 'node:crypto';
import { isUnreadableRecord } from '../ledger/ledger-error.ts';
import { cronOf, type ScheduledJob, slotDedupeKey } from '../schedule/tick-plan.ts';
import { floorToMinute } from '../schedule/yandex-cron.ts';
import { reportClaimUntil } from './check-schedule.ts';
import type { CoreDeps } from './ports.ts';
import { reportEnding } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import { dedupeKeyOf, requestHashOf, runIdFor } from './run-identity.ts';
import { MISSED_SLOT_CODE, type RunRecord, type RunRequest } from './run-record.ts';

/**
 * Missed scheduled slots are reported once (issue #13 item 4), even when no tick came for hours.
 *
 * Each job has a watermark in the ledger: a slot up to which every slot of the job is settled (it ran,
 * was skipped as still running, or was reported missed). It is one item of the ledger's slot kind
 * (scope `watermark:job:<name>`, its value `<slot>|<schedule hash>` in place of a holder), changed only
 * by compare-and-set. A tick only ever considers a job's latest slot, so when a tick's latest slot is
 * past the watermark, the slots between the two never had a tick that could start them, unless a late
 * or retried tick of their own minute still comes: a slot is judged once it is older than the catch-up
 * window (no tick may start it any more), at the first tick after that, however late. Each judged slot
 * with no run gets a record in its run's place (the same runId, create-if-absent: of any number of
 * overlapping ticks exactly one reports it, and no tick can start it afterwards), FAILED with error
 * `MISSED`; its creator logs the warning "scheduled slot missed" naming the job and the slot, and the
 * check function's sweep sends it as a `run.missed` notification. The watermark then moves to the
 * latest slot, or, while slots inside the window are still to be judged, to the last judged one.
 *
 * Cost: a warm instance remembers the watermark it last saw per job, so a tick reads or writes nothing
 * for a job whose latest slot has not moved (a daily job: 1,439 ticks of 1,440). When it moves: one
 * conditional write (the watermark), plus one read on an instance that has not seen this job yet. Only
 * after a gap: one read per slot judged, and a create and a write per slot missed.
 */

/** The scope of a job's watermark item (the ledger's slot kind). */
export const WATERMARK_SCOPE_PREFIX = 'watermark:job:';

/** Most missed slots of one job reported one by one per tick; the last of them counts the rest. */
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
 * Most slots after the watermark one tick checks one by one (one read each); after a longer gap the
 * rest, up to the last judged slot, are counted in the last report without being read.
 */
export const MAX_SLOTS_CHECKED = 100;

/**
 * After a tick handled the latest slot `latest` of `job` (`tooOld`: it is past the catch-up window, so
 * the tick did not try it), reports the slots missed since the watermark and moves the watermark on.
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
    // No watermark yet (or one of another schedule): a first sight reports nothing before it.
    const target = since === undefined ? latest : await judgeSince(job, since, latest, tooOld, now, deps);
    if (target === undefined) {
      if (current !== undefined) memory.set(job.name, current);
      return;
    }
    const next = watermarkOf(target, job.schedule);
    const at = deps.now().toISOString();
    const moved =
      current === undefined
        ? (await deps.ledger.acquireSlot(scope, next, at)).acquired
        : (await deps.ledger.transferSlot(scope, current, next, at)) !== undefined;
    if (moved) {
      memory.set(job.name, next);
      return;
    }
    known = undefined;
  }
}

/**
 * Judges the slots after `sinceMs` and before `latest` that are past the catch-up window (and `latest`
 * itself when `tooOld`), reporting each that has no run. Returns where the watermark may move: `latest`
 * when nothing is left to judge, else the last slot judged (undefined: none yet).
 */
async function judgeSince(
  job: ScheduledJob<RunRequest>,
  sinceMs: number,
  latest: Date,
  tooOld: boolean,
  now: Date,
  deps: CoreDeps,
): Promise<Date | undefined> {
  const cron = cronOf(job);
  const catchUp = deps.settings.scheduleCatchUpMinutes;
  // The newest slot before `latest` that no tick may start any more (older than the catch-up window).
  const judgeable = Math.min(latest.getTime(), floorToMinute(now) - catchUp * 60_000) - 60_000;
  const lastJudged = cron.latestAtOrBefore(new Date(judgeable));
  const upTo = lastJudged !== undefined && lastJudged.getTime() > sinceMs ? lastJudged : undefined;
  // A slot between the last judged one and `latest` is still inside the window: it waits.
  const waiting = (cron.nextAfter(upTo ?? new Date(sinceMs))?.getTime() ?? Infinity) < latest.getTime();
  const checked: Date[] = [];
  for (
    let slot = cron.nextAfter(new Date(sinceMs));
    upTo !== undefined && slot !== undefined && slot <= upTo && checked.length < MAX_SLOTS_CHECKED;
    slot = cron.nextAfter(slot)
  ) {
    checked.push(slot);
  }
  const unchecked = upTo !== undefined && (checked.at(-1)?.getTime() ?? sinceMs) < upTo.getTime();
  const reasons = checked.map((slot, i) => ({
    slot,
    why: `no tick came for it within its catch-up window of ${catchUp} minutes (the next slot, ${(checked[i + 1] ?? latest).toISOString()}, came first)`,
  }));
  if (!waiting && tooOld) {
    reasons.push({ slot: latest, why: `no tick came within its catch-up window of ${catchUp} minutes` });
  }
  const beyond = unchecked
    ? `later slots up to ${upTo?.toISOString()} were not started either (not checked one by one)`
    : undefined;
  await reportMissed(job, reasons, beyond, deps);
  return waiting ? upTo : latest;
}

/**
 * Reports each slot that has no run (one read each): at most MAX_MISSED_LISTED one by one; the last of
 * those also counts the rest, which get no record of their own.
 */
async function reportMissed(
  job: ScheduledJob<RunRequest>,
  slots: readonly { readonly slot: Date; readonly why: string }[],
  beyond: string | undefined,
  deps: CoreDeps,
): Promise<void> {
  // Records carry the function's clock, like every record; the tick's time only judges the slots.
  const now = deps.now();
  const missed: { slot: Date; why: string }[] = [];
  for (const candidate of slots) {
    const runId = runIdFor(dedupeKeyOf({ kind: 'schedule', key: slotDedupeKey(job.name, candidate.slot) }));
    // A record there (even one the store cannot read) means the slot was not missed.
    const found = await deps.ledger.get(runId).catch((error: unknown) => {
      if (isUnreadableRecord(error)) return true;
      throw error;
    });
    if (found === undefined) missed.push(candidate);
  }
  const listed = missed.slice(0, MAX_MISSED_LISTED);
  const rest = missed.slice(MAX_MISSED_LISTED);
  const last = rest.at(-1);
  const notes = [
    ...(last === undefined
      ? []
      : [
          `${rest.length} later slots up to ${last.slot.toISOString()} were missed too (not reported one by one)`,
        ]),
    ...(beyond === undefined ? [] : [beyond]),
  ];
  for (const [i, { slot, why }] of listed.entries()) {
    const more = i === listed.length - 1 && notes.length > 0 ? `; ${notes.join('; ')}` : '';
    const created = await deps.ledger.create(missedSlotRecord(job, slot, now, `${why}${more}`));
    if (!created.created) continue; // it ran after all, or another tick reported it
    // Reported: the sweep delivers the run.missed notifications, then takes it out of the open index.
    await reportEnding(deps, created.record, now);
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
    nextCheckAt: reportClaimUntil(now),
    checks: 0,
    job: { name: job.name, slot: slotText },
    version: 1,
  };
  return withEvent(record, 'finished', now, 'MISSED');
}
