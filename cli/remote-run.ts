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
  /** runIds of the earlier attempts of a retried run, oldest first. */
  readonly attempts?: readonly string[];
  /** runId of the next attempt, once it has started. */
  readonly retriedBy?: string;
  /** When the next attempt is due: present only while it is scheduled and not yet started. */
  readonly retryAt?: string;
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

/** The attempt number of a record (1 for a run without retries). */
export const attemptOf = (run: RemoteRun): number => (typeof run.attempt === 'number' ? run.attempt : 1);

/** The runId of the attempt that followed this ended one, once it started (`retriedBy`). */
export function nextAttemptId(run: RemoteRun): string | undefined {
  return isFinal(run) && typeof run.retriedBy === 'string' && run.retriedBy !== ''
    ? run.retriedBy
    : undefined;
}

/**
 * When the next attempt of this ended one is due, while it is scheduled and not yet started: the
 * status is then not the run's outcome. Undefined otherwise (no retry, started, or stopped).
 */
export function retryDueAt(run: RemoteRun): string | undefined {
  if (!isFinal(run) || nextAttemptId(run) !== undefined) return undefined;
  return typeof run.retryAt === 'string' && run.retryAt !== '' ? run.retryAt : undefined;
}

/** The run's outcome: final, and no attempt after it has started or is due. */
export const isOutcome = (run: RemoteRun): boolean =>
  isFinal(run) && nextAttemptId(run) === undefined && retryDueAt(run) === undefined;

/** What a run is about, in a few words: the notebook, or the action and project. */
export function subjectOf(run: RemoteRun): string {
  if (run.notebookId !== undefined) return `${run.projectId ?? '?'} ${run.notebookId}`;
  return `${run.action ?? 'run'} ${run.projectId ?? '?'}`;
}
