import { isRunnerError } from '../errors.ts';
import type { JobDefinition } from '../schedule/jobs-file.ts';
import { isDue, planTick, type ScheduledJob, slotDedupeKey } from '../schedule/tick-plan.ts';
import type { CoreDeps } from './ports.ts';
import type { RunRequest } from './run-record.ts';
import { advanceWatermark, createSlotWatermarks, type SlotWatermarks } from './slot-watermark.ts';
import { startRun } from './start-run.ts';

export type TickResult =
  | {
      readonly job: string;
      readonly slot: string;
      readonly result: 'started' | 'pending' | 'queued';
      readonly runId: string;
    }
  | {
      readonly job: string;
      readonly slot?: string;
      readonly result: 'skipped';
      readonly reason:
        | 'already-started'
        | 'still-running'
        | 'too-old'
        | 'no-slot'
        | 'not-allowed'
        | 'rejected';
      readonly runId?: string;
    }
  | { readonly job: string; readonly slot: string; readonly result: 'error'; readonly error: unknown };

/**
 * A per-minute tick of the jobs file (design.md §6 execute/timer): for each job, only its latest
 * scheduled minute at or before `now` is considered; it starts if it is at most the catch-up window
 * old and has not started yet. A (job, minute) starts at most once however many ticks arrive: the slot
 * is the run's dedupe key. Transient failures of one job do not stop the others; they are rethrown at
 * the end (so the platform retries the tick, which dedupe makes safe).
 *
 * Once a job's latest slot is handled (not after a transient failure, which the next tick retries), its
 * watermark moves there, and the slots missed since the last one are reported (slot-watermark.ts).
 * `watermarks` is what this instance remembers of them between ticks (one per warm instance).
 */
export async function tick(
  jobs: readonly JobDefinition<RunRequest>[],
  now: Date,
  deps: CoreDeps,
  signal?: AbortSignal,
  watermarks: SlotWatermarks = createSlotWatermarks(),
): Promise<TickResult[]> {
  const plan = planTick(jobs, now, { catchUpMinutes: deps.settings.scheduleCatchUpMinutes });
  const results: TickResult[] = [];
  let transient: unknown;
  for (const entry of plan) {
    const name = entry.job.name;
    if (!isDue(entry)) {
      const slot = entry.slot?.toISOString();
      results.push({
        job: name,
        result: 'skipped',
        reason: entry.skipped,
        ...(slot === undefined ? {} : { slot }),
      });
      if (entry.slot !== undefined) await moveWatermark(entry.job, entry.slot, true, now, deps, watermarks);
      continue;
    }
    const slot = entry.slot.toISOString();
    const key = slotDedupeKey(name, entry.slot);
    try {
      const started = await startRun(
        {
          request: entry.job.run,
          trigger: 'schedule',
          dedupe: { kind: 'schedule', key },
          job: { name, slot, concurrency: entry.job.concurrency },
        },
        deps,
        signal,
      );
      const runId = started.record.runId;
      if (started.outcome === 'existing') {
        deps.log.debug('scheduled slot skipped: already started', { job: name, slot, runId });
        results.push({ job: name, slot, result: 'skipped', reason: 'already-started', runId });
      } else if (started.outcome === 'rejected') {
        results.push({ job: name, slot, result: 'skipped', reason: 'rejected', runId });
      } else {
        deps.log.info('scheduled run started', { job: name, slot, runId, outcome: started.outcome });
        results.push({
          job: name,
          slot,
          result: started.outcome === 'started' || started.outcome === 'queued' ? started.outcome : 'pending',
          runId,
        });
      }
      await moveWatermark(entry.job, entry.slot, false, now, deps, watermarks);
    } catch (error) {
      if (isRunnerError(error) && error.code === 'RUN_ALREADY_RUNNING') {
        deps.log.info('scheduled slot skipped: the previous run is still running', {
          job: name,
          slot,
          error,
        });
        results.push({ job: name, slot, result: 'skipped', reason: 'still-running' });
        await moveWatermark(entry.job, entry.slot, false, now, deps, watermarks);
      } else if (isRunnerError(error) && error.code === 'PROJECT_NOT_ALLOWED') {
        deps.log.error('scheduled slot skipped: project not allowed', { job: name, slot, error });
        results.push({ job: name, slot, result: 'skipped', reason: 'not-allowed' });
        await moveWatermark(entry.job, entry.slot, false, now, deps, watermarks);
      } else {
        deps.log.error('scheduled run could not be started; the tick will be retried', {
          job: name,
          slot,
          error,
        });
        results.push({ job: name, slot, result: 'error', error });
        transient ??= error;
      }
    }
  }
  if (transient !== undefined) throw transient;
  return results;
}

/** The watermark step of one job; a failure is logged, not thrown: the next tick reports what this one could not. */
async function moveWatermark(
  job: ScheduledJob<RunRequest>,
  slot: Date,
  tooOld: boolean,
  now: Date,
  deps: CoreDeps,
  watermarks: SlotWatermarks,
): Promise<void> {
  try {
    await advanceWatermark(job, slot, tooOld, now, deps, watermarks);
  } catch (error) {
    deps.log.warn('missed-slot watermark not moved; the next tick tries again', {
      job: job.name,
      slot: slot.toISOString(),
      error,
    });
  }
}
