import { RunnerError } from '../errors.ts';
import type { CoreDeps } from './ports.ts';
import { toPublicRun } from './public-run.ts';
import { FINAL_STATUSES, type RunRecord } from './run-record.ts';

/**
 * Every change to a run goes through here: compare-and-set in the ledger, then one log line per status
 * change, and the single "run finished" line when this write is the one that made the run final.
 * Because the final transition is itself a compare-and-set, two overlapping sweeps can never both
 * report one ending.
 */

type Change = (latest: RunRecord) => RunRecord | undefined;

export interface CommitResult {
  /** The record as stored after this call (the latest one if nothing was written). */
  readonly record: RunRecord;
  /** Whether this call's write landed. */
  readonly written: boolean;
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
  deps: Pick<CoreDeps, 'ledger' | 'log'>,
  current: RunRecord,
  change: Change,
  attempts = 5,
): Promise<CommitResult> {
  let latest = current;
  for (let attempt = 0; ; attempt++) {
    const next = change(latest);
    if (next === undefined) return { record: latest, written: false };
    const stored = await deps.ledger.update(next);
    if (stored !== undefined) {
      logTransition(deps, latest, stored);
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
  if (after.reportedAt !== undefined && before.reportedAt === undefined && FINAL_STATUSES.has(after.status)) {
    deps.log.info('run finished', {
      ...runFields(after),
      run: toPublicRun(after),
      durationSeconds: durationSeconds(after.startedAt ?? after.createdAt, after.finishedAt),
      totalSeconds: durationSeconds(after.createdAt, after.finishedAt),
      checks: after.checks,
    });
  }
}

/** The record of a run that has just reached `status`: reported now, and left for the sweep to settle. */
export function finished(
  record: RunRecord,
  now: Date,
  status: RunRecord['status'],
  fields: Partial<RunRecord> = {},
): RunRecord {
  const iso = now.toISOString();
  return touch(record, now, {
    ...fields,
    status,
    finishedAt: iso,
    reportedAt: iso,
    // The sweep still has work: deliver notifications, and follow an operation that is not done.
    nextCheckAt: iso,
  });
}
