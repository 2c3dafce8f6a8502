import type { RunRecord } from '../ledger/run-record.ts';

/** The run record as callers see it (design.md §5): internal bookkeeping left out. */
export interface PublicRun {
  readonly runId: string;
  readonly operationId?: string;
  readonly projectId: string;
  readonly notebookId: string;
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
}

export function toPublicRun(record: RunRecord): PublicRun {
  const optional = {
    operationId: record.operationId,
    executionStatus: record.executionStatus,
    error: record.error,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    job: record.job,
    cancelRequestedAt: record.cancelRequestedAt,
    cancelReason: record.cancelReason,
  };
  return {
    runId: record.runId,
    projectId: record.projectId,
    notebookId: record.notebookId,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    deadline: record.deadline,
    trigger: record.trigger,
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
  };
}
