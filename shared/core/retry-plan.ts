import type { CoreSettings } from './ports.ts';
import { withEvent } from './run-events.ts';
import { runIdFor } from './run-identity.ts';
import type { RetryPolicy, RunRecord } from './run-record.ts';

/**
 * Retries of failed runs (`retry` in a run request or a job's run, design.md §4): the pure part. An
 * attempt that ends in one of `retry.on` with attempts left is not the run's outcome: the write that
 * ends it also says when the next attempt is due (`retryAt`), and a sweep starts that attempt then
 * (retry-start.ts). Each attempt is a run record of its own, with its own dedupe key, runId and
 * Idempotency-Key, all derived from the first attempt's dedupe key and the attempt number, so that
 * whoever builds attempt n (a sweep, or a cancel that gets there first) builds the same record, and
 * create-if-absent lets exactly one of them store it.
 */

/** The longest wait between two attempts, whatever `delaySeconds × backoff^(n-1)` says (7 days). */
export const MAX_RETRY_DELAY_SECONDS = 604_800;

/** Seconds between the end of attempt `attempt` (1-based) and the start of the next one. */
export function retryDelaySeconds(policy: RetryPolicy, attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_SECONDS, policy.delaySeconds * policy.backoff ** Math.max(0, attempt - 1));
}

/**
 * When the attempt `record` (a record that has just become final) is to be retried, or undefined when
 * its ending is the run's outcome. Not retried: a status outside `retry.on`; no attempts left; an
 * attempt that never got an operation (its start was rejected by the API with a 4xx, or it could not be
 * started before its deadline: the same request would meet the same refusal); a run cancelled by a user
 * or replaced by another (`concurrency: "replace"`). A TIMED_OUT attempt (cancelled for its deadline)
 * is retried when `on` has TIMED_OUT.
 */
export function retryAtFor(record: RunRecord, endedAt: Date): string | undefined {
  const policy = record.request.retry;
  if (policy === undefined) return undefined;
  const attempt = record.attempt ?? 1;
  if (attempt >= policy.attempts) return undefined;
  if (!(policy.on as readonly string[]).includes(record.status)) return undefined;
  if (record.operationId === undefined) return undefined;
  if (record.cancelReason === 'user' || record.cancelReason === 'replaced') return undefined;
  return new Date(endedAt.getTime() + retryDelaySeconds(policy, attempt) * 1000).toISOString();
}

/** An attempt the run goes on from: its ending is not the run's outcome (nor reported as one). */
export function isIntermediate(record: RunRecord): boolean {
  return record.retryAt !== undefined || record.retriedBy !== undefined;
}

/** An attempt whose next attempt is scheduled but not yet created. */
export function retryPending(record: RunRecord): boolean {
  return record.retryAt !== undefined && record.retriedBy === undefined;
}

/** The dedupe key of the first attempt of the run `record` belongs to. */
export function firstDedupeKey(record: Pick<RunRecord, 'dedupeKey'>): string {
  return /^retry:\d+:([\s\S]*)$/.exec(record.dedupeKey)?.[1] ?? record.dedupeKey;
}

/**
 * The dedupe key of attempt `attempt` (≥ 2): `retry:<n>:<first attempt's key>`. The `retry:` prefix is
 * one no trigger's key has (theirs start `key:`, `timer:`, `queue:`, `schedule:`, `chain:`, `http:`),
 * so a caller's Idempotency-Key can never collide with an attempt's.
 */
export function attemptDedupeKey(firstKey: string, attempt: number): string {
  return `retry:${attempt}:${firstKey}`;
}

/** The runId attempt n+1 of `record` has (or will have). */
export function nextAttemptRunId(record: RunRecord): string {
  return runIdFor(attemptDedupeKey(firstDedupeKey(record), (record.attempt ?? 1) + 1));
}

/**
 * The claim of the attempt after `prev`: STARTING, with a deadline of its own (`timeoutSeconds` counts
 * per attempt), the same request, trigger, job and concurrency scope, linked to the earlier attempts
 * (`attempt`, `attempts`). `lease`: the builder is a sweep that starts it now: it holds the start, and,
 * as for a fresh claim (start-run.ts), the claim says the start call may be sent (unless an image
 * activation comes first), which saves a write. Otherwise (a cancel that creates it cancelled) it is
 * due at once and says nothing was sent.
 */
export function nextAttemptOf(
  prev: RunRecord,
  now: Date,
  settings: Pick<CoreSettings, 'runTimeoutSeconds' | 'startRecoverySeconds'>,
  lease: boolean,
): RunRecord {
  const attempt = (prev.attempt ?? 1) + 1;
  const dedupeKey = attemptDedupeKey(firstDedupeKey(prev), attempt);
  const timeoutSeconds = prev.request.timeoutSeconds ?? settings.runTimeoutSeconds;
  const at = now.toISOString();
  const record: RunRecord = {
    runId: runIdFor(dedupeKey),
    dedupeKey,
    requestHash: prev.requestHash,
    request: prev.request,
    trigger: prev.trigger,
    ...(prev.action === undefined ? {} : { action: prev.action }),
    projectId: prev.projectId,
    ...(prev.notebookId === undefined ? {} : { notebookId: prev.notebookId }),
    status: 'STARTING',
    createdAt: at,
    updatedAt: at,
    deadline: new Date(now.getTime() + timeoutSeconds * 1000).toISOString(),
    nextCheckAt: lease ? new Date(now.getTime() + settings.startRecoverySeconds * 1000).toISOString() : at,
    ...(lease && prev.request.dockerId === undefined ? { startSentAt: at } : {}),
    checks: 0,
    ...(prev.job === undefined ? {} : { job: prev.job }),
    ...(prev.concurrencyScope === undefined ? {} : { concurrencyScope: prev.concurrencyScope }),
    ...(prev.upstream === undefined ? {} : { upstream: prev.upstream }),
    attempt,
    attempts: [...(prev.attempts ?? []), prev.runId],
    version: 1,
  };
  return withEvent(record, 'claimed', now, `attempt ${attempt} after ${prev.runId}`);
}
