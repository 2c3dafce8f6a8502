import { FINAL_STATUSES, isMissedSlot, type RunRecord } from '../core/run-record.ts';
import { RunnerError } from '../errors.ts';
import { type PublicRun, toPublicRun } from './public-run.ts';

/** A run reached its final status (for a retried run: its last attempt). */
export const RUN_FINISHED = 'run.finished';
/**
 * A scheduled slot of a job was never started (ticks were lost and it fell out of the catch-up window,
 * or a later slot came first); `run` is the record standing in its place (FAILED, error `MISSED`, with
 * `job: {name, slot}`).
 */
export const RUN_MISSED = 'run.missed';

/**
 * What every destination receives when a run reaches a final status. The payload is a pure function
 * of the record (no send time, no attempt number), so a retried delivery carries byte-identical JSON
 * and an HMAC over it stays the same.
 */
export interface RunNotification {
  readonly type: typeof RUN_FINISHED | typeof RUN_MISSED;
  /** `<runId>:<status>`: stable across retries and sweeps, for receivers to deduplicate on. */
  readonly deliveryId: string;
  readonly run: PublicRun;
}

/** The delivery id of a report of `record`: `<runId>:<status>`. */
export function deliveryIdOf(record: Pick<RunRecord, 'runId' | 'status'>): string {
  return `${record.runId}:${record.status}`;
}

/**
 * The notification for a finished run. Throws a RunnerError `INTERNAL` for a record that is not in a
 * final status: reporting a RUNNING run as finished would be a bug in the caller.
 */
export function buildNotification(record: RunRecord): RunNotification {
  if (!FINAL_STATUSES.has(record.status)) {
    throw new RunnerError(
      'INTERNAL',
      `run ${record.runId} is ${record.status}, not finished: nothing to report`,
      {
        details: { runId: record.runId, status: record.status },
      },
    );
  }
  return {
    type: isMissedSlot(record) ? RUN_MISSED : RUN_FINISHED,
    deliveryId: deliveryIdOf(record),
    run: endingOf(toPublicRun(record)),
  };
}

/**
 * The run as it ended: the public record without what goes on changing after the ending, so that
 * every retry of a delivery carries the same run (receivers deduplicate on `deliveryId`, and an HMAC
 * over the body stays the same). The timeline stops at `finished` (later entries record the reports
 * themselves), and `checks` is left out (the follow-up Gets of a timed-out run keep counting).
 */
function endingOf(run: PublicRun): PublicRun {
  // `retryAt` is never set on a reported run (only last attempts are reported); left out all the same,
  // since it is the kind of fact that changes after the ending.
  const { checks: _goesOn, retryAt: _notAnEnding, events, ...rest } = run;
  if (events === undefined) return rest as PublicRun;
  const ended = events.findIndex((event) => event.type === 'finished');
  return { ...rest, events: ended === -1 ? events : events.slice(0, ended + 1) } as PublicRun;
}
