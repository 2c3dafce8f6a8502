import { RunnerError } from '../errors.ts';
import { deliveryIdOf } from '../notify/notification.ts';
import { reportClaimUntil } from './check-schedule.ts';
import type { CoreDeps } from './ports.ts';
import { toPublicRun } from './public-run.ts';
import { isIntermediate } from './retry-plan.ts';
import { onEnding } from './run-ending.ts';
import { withEvent } from './run-events.ts';
import { FINAL_STATUSES, isMissedSlot, type RunRecord } from './run-record.ts';

/**
 * Every change to a run goes through here: compare-and-set in the ledger, then one log line per status
 * change, and the "run finished" line when this write is the one that made the run final.
 *
 * Reports are at least once, never lost (design.md §7): the write that makes a run final also claims
 * its report for REPORT_CLAIM_SECONDS (`nextCheckAt` moves out, `reportedAt` stays absent); the writer
 * then logs "run finished" and only after that records `reportedAt`. A writer killed in between leaves
 * an unreported final run whose claim runs out: the next sweep claims it again and logs the line again,
 * with the same `deliveryId`. Because the final transition and every later claim are compare-and-set,
 * two live writers never both report one ending.
 */

type Change = (latest: RunRecord) => RunRecord | undefined;

export interface CommitResult {
  /** The record as stored after this call (the latest one if nothing was written). */
  readonly record: RunRecord;
  /** Whether this call's write landed. */
  readonly written: boolean;
}

export interface CommitOptions {
  /**
   * The caller settles a run this write ends in the same pass (the sweep: it delivers the report and
   * records `reportedAt` in its next write). Otherwise the commit records `reportedAt` itself right after
   * the "run finished" line, and leaves the run due for the sweep's deliveries.
   */
  readonly settlesReport?: boolean;
}

/** Fields a change never sets itself. */
export function touch(record: RunRecord, now: Date, fields: Partial<RunRecord>): RunRecord {
  return { ...record, ...fields, updatedAt: now.toISOString() };
}

/** Removes optional fields (exactOptionalPropertyTypes forbids writing `undefined`). */
export function without<K extends keyof RunRecord>(record: RunRecord, ...keys: K[]): RunRecord {
  const copy: Record<string, unknown> = { ...record };
  for (const key of keys) delete copy[key as string];
  return copy as unknown as RunRecord;
}

/**
 * Applies `change` to `current` and writes it with compare-and-set. On a conflict it re-reads and
 * applies `change` to the newer record, up to `attempts` times (0 = give up at once: used by sweeps,
 * where a conflict means another sweep handled the run).
 */
export async function commit(
  deps: Pick<CoreDeps, 'ledger' | 'log' | 'now'>,
  current: RunRecord,
  change: Change,
  attempts = 5,
  options: CommitOptions = {},
): Promise<CommitResult> {
  let latest = current;
  for (let attempt = 0; ; attempt++) {
    const changed = change(latest);
    if (changed === undefined) return { record: latest, written: false };
    // The write that ends a run also says what follows its ending (a retry), in the same write.
    const next =
      FINAL_STATUSES.has(changed.status) && !FINAL_STATUSES.has(latest.status)
        ? onEnding(changed, deps.now())
        : changed;
    const stored = await deps.ledger.update(next);
    if (stored !== undefined) {
      logTransition(deps, latest, stored);
      if (FINAL_STATUSES.has(stored.status) && !FINAL_STATUSES.has(latest.status)) {
        return { record: await afterEnding(deps, stored, options), written: true };
      }
      return { record: stored, written: true };
    }
    if (attempt >= attempts) {
      const reread = await deps.ledger.get(current.runId);
      return { record: reread ?? latest, written: false };
    }
    const reread = await deps.ledger.get(current.runId);
    if (reread === undefined) {
      throw new RunnerError('LEDGER_ERROR', `run ${current.runId} vanished from the ledger during an update`);
    }
    latest = reread;
  }
}

function durationSeconds(from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  return Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;
}

/** The correlation fields of every line about a run. */
export function runFields(record: RunRecord): Record<string, unknown> {
  return {
    runId: record.runId,
    ...(record.action === undefined ? {} : { action: record.action }),
    operationId: record.operationId,
    projectId: record.projectId,
    notebookId: record.notebookId,
    status: record.status,
    trigger: record.trigger,
    ...(record.job === undefined ? {} : { job: record.job.name, slot: record.job.slot }),
  };
}

function logTransition(deps: Pick<CoreDeps, 'log'>, before: RunRecord, after: RunRecord): void {
  if (
    before.status !== after.status ||
    (before.operationId === undefined && after.operationId !== undefined)
  ) {
    const level = after.status === 'FAILED' || after.status === 'TIMED_OUT' ? 'warn' : 'info';
    deps.log[level]('run status changed', {
      ...runFields(after),
      previousStatus: before.status,
      executionStatus: after.executionStatus,
      error: after.error,
      queuedSeconds: durationSeconds(after.createdAt, after.startedAt),
    });
  }
}

/**
 * The "run finished" line: the report of an ending in the log (design.md §6). `repeated` when a sweep
 * logs it again for a writer that died before recording it; `deliveryId` is the same every time.
 * An attempt that will be retried is not the run's outcome: its line is a warning "run attempt failed;
 * retrying" instead, and its report waits for the last attempt. A missed scheduled slot (a record that
 * only reports the miss) is the warning "scheduled slot missed".
 */
export function logRunFinished(deps: Pick<CoreDeps, 'log'>, record: RunRecord, repeated = false): void {
  const common = {
    ...runFields(record),
    deliveryId: deliveryIdOf(record),
    ...(repeated ? { repeated: true } : {}),
  };
  if (isIntermediate(record)) {
    deps.log.warn('run attempt failed; retrying', {
      ...common,
      attempt: record.attempt ?? 1,
      maxAttempts: record.request.retry?.attempts,
      retryAt: record.retryAt,
      ...(record.retriedBy === undefined ? {} : { retriedBy: record.retriedBy }),
      error: record.error,
    });
    return;
  }
  if (isMissedSlot(record)) {
    deps.log.warn('scheduled slot missed', { ...common, error: record.error, run: toPublicRun(record) });
    return;
  }
  deps.log.info('run finished', {
    ...common,
    run: toPublicRun(record),
    durationSeconds: durationSeconds(record.startedAt ?? record.createdAt, record.finishedAt),
    totalSeconds: durationSeconds(record.createdAt, record.finishedAt),
    checks: record.checks,
  });
}

/**
 * Right after the write that ended a run (and claimed its report): the "run finished" line and, unless
 * the caller settles the report itself, `reportedAt` recorded. The run's concurrency slot is handed on
 * (or freed) by the sweep that settles the ending (run-queue.ts), once its operation is done: until
 * then a skip start takes it over from the ended holder.
 */
async function afterEnding(
  deps: Pick<CoreDeps, 'ledger' | 'log' | 'now'>,
  ended: RunRecord,
  options: CommitOptions,
): Promise<RunRecord> {
  if (options.settlesReport !== true) return reportEnding(deps, ended, deps.now());
  logRunFinished(deps, ended);
  return ended;
}

/**
 * An ending reported by the writer that claimed it: the "run finished" line, then `reportedAt` (and the
 * timeline's "reported") recorded, the run due at once for the sweep's deliveries. Returns the record as
 * it now stands. Not written (a conflict, the ledger failing): the claim runs out and a sweep reports it
 * again.
 */
export async function reportEnding(
  deps: Pick<CoreDeps, 'ledger' | 'log'>,
  ended: RunRecord,
  now: Date,
): Promise<RunRecord> {
  logRunFinished(deps, ended);
  const reported = withEvent(ended, 'reported', now, 'log');
  const confirmed = await deps.ledger
    .update(touch(reported, now, { reportedAt: now.toISOString(), nextCheckAt: now.toISOString() }))
    .catch(() => undefined);
  return confirmed ?? ended;
}

/**
 * The record of a run that has just reached `status`. Its writer claims the report: the run is due
 * again only after REPORT_CLAIM_SECONDS (the writer logs and records the report long before; if it dies
 * first, a sweep reports it then). Then the sweep delivers notifications and follows an operation that
 * is not done.
 */
export function finished(
  record: RunRecord,
  now: Date,
  status: RunRecord['status'],
  fields: Partial<RunRecord> = {},
): RunRecord {
  const { reportedAt: _notYet, ...rest } = record;
  return touch(withEvent(rest, 'finished', now, status), now, {
    ...fields,
    status,
    finishedAt: now.toISOString(),
    nextCheckAt: reportClaimUntil(now),
  });
}
