/**
 * A run record as the service answers it (design.md §5). Read loosely: the record grows fields over
 * time (action, result, attempts, events...), and an older or newer service must not break the CLI,
 * so only `runId` and `status` are required and everything else is shown when present.
 */
import { FINAL_STATUSES, type RunStatus } from '../shared/core/run-record.ts';

export interface RemoteRun {
  readonly runId: string;
  readonly status: string;
  readonly operationId?: string;
  readonly projectId?: string;
  readonly notebookId?: string;
  readonly action?: string;
  readonly executionStatus?: string;
  readonly error?: { readonly code?: number | string; readonly message?: string };
  readonly result?: Readonly<Record<string, unknown>>;
  readonly createdAt?: string;
  readonly updatedAt?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly deadline?: string;
  readonly trigger?: string;
  readonly job?: { readonly name?: string; readonly slot?: string };
  readonly cancelRequestedAt?: string;
  readonly cancelReason?: string;
  readonly attempt?: number;
  /** Operation.Get calls the service made for this run, when the record carries them. */
  readonly checks?: number;
  readonly [field: string]: unknown;
}

export function isRemoteRun(value: unknown): value is RemoteRun {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.runId === 'string' && typeof record.status === 'string';
}

export const isFinal = (run: RemoteRun): boolean => FINAL_STATUSES.has(run.status as RunStatus);

/** What a run is about, in a few words: the notebook, or the action and project. */
export function subjectOf(run: RemoteRun): string {
  if (run.notebookId !== undefined) return `${run.projectId ?? '?'} ${run.notebookId}`;
  return `${run.action ?? 'run'} ${run.projectId ?? '?'}`;
}
