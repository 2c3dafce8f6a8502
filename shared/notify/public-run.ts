import type { RunRecord } from '../core/run-record.ts';

/**
 * The run record as callers and notification receivers see it (design.md §5). It is built from an
 * allow-list, so internal bookkeeping added to RunRecord later (hashes, dedupe keys, check counters,
 * delivery state, the CAS version, `nextCheckAt`) never leaks by accident. The request itself is left
 * out too: its `inputVariables` may carry values users would not want posted to a webhook.
 */
export interface PublicRun {
  readonly runId: string;
  readonly operationId?: string;
  readonly projectId: string;
  readonly notebookId?: string;
  readonly status: RunRecord['status'];
  readonly executionStatus?: string;
  readonly error?: RunRecord['error'];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly deadline: string;
  readonly trigger: RunRecord['trigger'];
  readonly job?: RunRecord['job'];
  readonly cancelRequestedAt?: string;
  readonly cancelReason?: RunRecord['cancelReason'];
  readonly action?: RunRecord['action'];
  readonly result?: RunRecord['result'];
  readonly attempt?: number;
  readonly attempts?: RunRecord['attempts'];
  readonly events?: RunRecord['events'];
}

/**
 * The public view of `record`, keys in the order of design.md §5 (so JSON answers and notifications
 * read the same every time); absent optional fields are left out, not set to undefined.
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
    ['job', record.job && { name: record.job.name, slot: record.job.slot }],
    ['cancelRequestedAt', record.cancelRequestedAt],
    ['cancelReason', record.cancelReason],
    // design.md §5 "Also": what the record carries once the core sets it (the web console shows them).
    ['action', record.action],
    ['result', record.result],
    ['attempt', record.attempt],
    ['attempts', record.attempts],
    ['events', record.events],
  ];
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined)) as unknown as PublicRun;
}
