import { actionOf, type RunAction, type RunEvent, type RunRecord } from '../core/run-record.ts';

/**
 * The run record as callers and notification receivers see it (design.md §5). It is built from an
 * allow-list, so internal bookkeeping added to RunRecord later (hashes, dedupe keys, delivery state,
 * the CAS version, `nextCheckAt`, `startSentAt`, the concurrency scope) never leaks by accident. The
 * request itself is left out too: its `inputVariables` may carry values users would not want posted to
 * a webhook. Nested values (job, result, upstream, events) are copied member by member for the same
 * reason.
 */
export interface PublicRun {
  readonly runId: string;
  readonly operationId?: string;
  readonly projectId: string;
  readonly notebookId?: string;
  readonly status: RunRecord['status'];
  /** Execute runs only. */
  readonly executionStatus?: string;
  readonly error?: RunRecord['error'];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly deadline: string;
  readonly trigger: RunRecord['trigger'];
  /** Always present (`execute` for records written before actions existed). */
  readonly action: RunAction;
  /** What the finished operation returned that is safe to show (`projectUrl` of an Open). */
  readonly result?: RunRecord['result'];
  readonly job?: RunRecord['job'];
  readonly attempt?: number;
  readonly attempts?: readonly string[];
  readonly retriedBy?: string;
  /**
   * When the next attempt is due (ISO), exactly while it is scheduled and not yet started: present on
   * a final attempt whose retry is pending; absent once a sweep has taken the retry on (`retriedBy`
   * names the next attempt) or the retry was stopped (a cancel, a replacement). Never in a
   * notification: only a run's last attempt is reported, and it has no retry pending.
   */
  readonly retryAt?: string;
  readonly upstream?: RunRecord['upstream'];
  readonly replacedBy?: string;
  readonly cancelRequestedAt?: string;
  readonly cancelReason?: RunRecord['cancelReason'];
  /** Operation.Get calls made for this run so far (not in notifications: it goes on after the ending). */
  readonly checks?: number;
  readonly events?: readonly RunEvent[];
}

/** Present fields only: absent optional fields are left out, not set to undefined. */
function defined(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined));
}

/** A result's members whose values are plain strings, numbers or booleans. */
function publicResult(result: RunRecord['result']): RunRecord['result'] {
  if (result === undefined) return undefined;
  const kept = Object.entries(result).filter(
    ([, value]) => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean',
  );
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}

/**
 * The public view of `record`, keys in the order of design.md §5 (so JSON answers and notifications
 * read the same every time).
 */
export function toPublicRun(record: RunRecord): PublicRun {
  const entries: [string, unknown][] = [
    ['runId', record.runId],
    ['operationId', record.operationId],
    ['projectId', record.projectId],
    ['notebookId', record.notebookId],
    ['status', record.status],
    ['executionStatus', record.executionStatus],
    ['error', record.error && { code: record.error.code, message: record.error.message }],
    ['createdAt', record.createdAt],
    ['updatedAt', record.updatedAt],
    ['startedAt', record.startedAt],
    ['finishedAt', record.finishedAt],
    ['deadline', record.deadline],
    ['trigger', record.trigger],
    ['action', actionOf(record)],
    ['result', publicResult(record.result)],
    ['job', record.job && { name: record.job.name, slot: record.job.slot }],
    ['attempt', record.attempt],
    ['attempts', record.attempts && [...record.attempts]],
    ['retriedBy', record.retriedBy],
    // The ledger keeps `retryAt` once the next attempt is claimed; callers see it only while it means
    // "a next attempt is scheduled and not yet started" (retryPending in core/retry-plan.ts).
    ['retryAt', record.retriedBy === undefined ? record.retryAt : undefined],
    [
      'upstream',
      record.upstream &&
        defined([
          ['runId', record.upstream.runId],
          ['job', record.upstream.job],
          ['status', record.upstream.status],
        ]),
    ],
    ['replacedBy', record.replacedBy],
    ['cancelRequestedAt', record.cancelRequestedAt],
    ['cancelReason', record.cancelReason],
    ['checks', record.checks],
    [
      'events',
      record.events?.map((event) =>
        defined([
          ['at', event.at],
          ['type', event.type],
          ['detail', event.detail],
        ]),
      ),
    ],
  ];
  return defined(entries) as unknown as PublicRun;
}
