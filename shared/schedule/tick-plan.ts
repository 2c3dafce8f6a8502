/**
 * What one per-minute tick should start. Pure: the caller passes the clock reading; deduplication
 * of a (job, slot) and the `skip` concurrency check happen in the core, against the ledger.
 *
 * Rule: for each job only the latest scheduled minute at or before `now` (the slot) is considered.
 * It is started when it is at most `catchUpMinutes` old, so a late, retried or duplicated tick, or
 * the next tick after a lost one, still starts it (the dedupe key makes that happen once); an older
 * slot is never run, nor are earlier missed slots.
 */
import type { JobDefinition } from './jobs-file.ts';
import { floorToMinute, parseYandexCron, type YandexCron } from './yandex-cron.ts';

export const DEFAULT_CATCH_UP_MINUTES = 15;

export interface TickOptions {
  /** How old (in whole minutes, `now` rounded down to its minute) a slot may be and still start. @default 15 */
  readonly catchUpMinutes?: number;
}

/** Start this job for this scheduled minute. */
export interface DueJob<R = unknown> {
  readonly job: ScheduledJob<R>;
  readonly slot: Date;
}

/**
 * Do not start this job now. `too-old`: its latest slot (given) is older than the catch-up window,
 * which is the normal state between two slots, not an alarm. `no-slot`: it has no scheduled minute
 * at or before `now` (a schedule whose years have not begun).
 */
export interface SkippedJob<R = unknown> {
  readonly job: ScheduledJob<R>;
  readonly skipped: 'too-old' | 'no-slot';
  readonly slot?: Date;
}

export type TickPlanEntry<R = unknown> = DueJob<R> | SkippedJob<R>;

/** One entry per job that has a schedule, in the jobs' order. */
export function planTick<R>(
  jobs: readonly JobDefinition<R>[],
  now: Date,
  options: TickOptions = {},
): TickPlanEntry<R>[] {
  const catchUpMinutes = options.catchUpMinutes ?? DEFAULT_CATCH_UP_MINUTES;
  if (!Number.isInteger(catchUpMinutes) || catchUpMinutes < 0) {
    throw new RangeError(`catchUpMinutes must be a whole number >= 0, got ${catchUpMinutes}`);
  }
  const nowMinute = floorToMinute(now);
  // Jobs that only run `after` another job have no slots: the sweep starts them (job chains).
  return scheduledJobs(jobs).map((job): TickPlanEntry<R> => {
    const slot = cronOf(job).latestAtOrBefore(now);
    if (slot === undefined) return { job, skipped: 'no-slot' };
    if (nowMinute - slot.getTime() <= catchUpMinutes * 60_000) return { job, slot };
    return { job, skipped: 'too-old', slot };
  });
}

/** True for the entries to start. */
export function isDue<R>(entry: TickPlanEntry<R>): entry is DueJob<R> {
  return !('skipped' in entry);
}

/** The ledger dedupe key of one scheduled run: `schedule:<job>:<slot as ISO minute, e.g. 2024-01-01T03:00Z>`. */
export function slotDedupeKey(jobName: string, slot: Date): string {
  return `schedule:${jobName}:${new Date(floorToMinute(slot)).toISOString().slice(0, 16)}Z`;
}

// Parsed expressions, kept for the life of a warm instance; created on first use, not at import.
let cronCache: Map<string, YandexCron> | undefined;

/** A job of the file that has a schedule. */
export type ScheduledJob<R = unknown> = JobDefinition<R> & { readonly schedule: string };

/** The jobs that have a schedule, in file order. */
export function scheduledJobs<R>(jobs: readonly JobDefinition<R>[]): ScheduledJob<R>[] {
  return jobs.filter((job): job is ScheduledJob<R> => job.schedule !== undefined);
}

/** The parsed schedule of a job (parsed once per warm instance). */
export function cronOf(job: ScheduledJob<unknown>): YandexCron {
  cronCache ??= new Map();
  let cron = cronCache.get(job.schedule);
  if (cron === undefined) {
    cron = parseYandexCron(job.schedule, `jobs.${job.name}.schedule`);
    cronCache.set(job.schedule, cron);
  }
  return cron;
}
