/**
 * The run record: what the ledger stores, what HTTP answers carry and what is reported at the end
 * (design.md §5). The ledger stores it as a plain JSON document; `version` is the compare-and-set
 * counter every store enforces.
 */

/** Statuses of a run. `STARTING` means: the dedupe key is claimed, Execute is not yet confirmed. */
export const RUN_STATUSES = ['STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses after which the run's outcome is decided (the operation may still need a Cancel/Get). */
export const FINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
]);

export const TRIGGER_KINDS = ['http', 'timer', 'queue', 'schedule'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** The validated run request (design.md §4) without its idempotency key. */
export interface RunRequest {
  readonly projectId: string;
  readonly notebookId: string;
  readonly inputVariables?: Readonly<Record<string, string | number | boolean>>;
  readonly outputVariableNames?: readonly string[];
  readonly spec?: string;
  readonly sparkConnectorId?: string;
  readonly dockerId?: string;
  readonly timeoutSeconds?: number;
  readonly concurrency?: 'allow' | 'skip';
}

/** Delivery state of the final report to one notification destination. */
export interface DeliveryState {
  readonly delivered: boolean;
  readonly attempts: number;
  readonly lastError?: string;
  readonly deliveredAt?: string;
  /** When a failed delivery is tried again (ISO). */
  readonly nextAttemptAt?: string;
}

export interface RunError {
  /** google.rpc code (number) from the operation or the API, or a product error code (string). */
  readonly code: number | string;
  readonly message: string;
}

export interface RunRecord {
  /** UUID derived from `dedupeKey`: the same trigger always maps to the same run id. */
  readonly runId: string;
  /** What makes two deliveries "the same run": `key:<Idempotency-Key>`, `timer:<event_id>`, ... */
  readonly dedupeKey: string;
  /** Hash of the canonical run request, to refuse one key reused for another request. */
  readonly requestHash: string;
  readonly request: RunRequest;
  readonly trigger: TriggerKind;
  readonly projectId: string;
  readonly notebookId: string;
  readonly status: RunStatus;
  readonly operationId?: string;
  /** `executionStatus` of the finished Execute operation (`OK`, `ERROR`, `ABORTED`). */
  readonly executionStatus?: string;
  readonly error?: RunError;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly deadline: string;
  /**
   * When the sweep must look at this record next (ISO). Present exactly while the record needs the
   * sweep: not yet started, running, cancelled but not yet done, or a report not yet delivered.
   * Stores index on it so a sweep never reads finished history.
   */
  readonly nextCheckAt?: string;
  /** Operation.Get calls made for this run. */
  readonly checks: number;
  /** Consecutive NOT_FOUND answers from Operation.Get (fresh operations may not be visible yet). */
  readonly notFoundCount?: number;
  /** When the product (deadline) or a user asked Yandex to cancel. */
  readonly cancelRequestedAt?: string;
  readonly cancelReason?: 'user' | 'deadline';
  /** The Yandex operation reported done (the run may be final earlier, e.g. TIMED_OUT). */
  readonly operationDone?: boolean;
  /** The final status was reported (log line "run finished"). Set once, by compare-and-set. */
  readonly reportedAt?: string;
  /** Scheduled job that started this run, and the scheduled minute (ISO). */
  readonly job?: { readonly name: string; readonly slot: string };
  /** Notification delivery per destination name (`webhook`, `queue`). */
  readonly notifications?: Readonly<Record<string, DeliveryState>>;
  /** Compare-and-set counter: 1 on create, +1 on each successful update. */
  readonly version: number;
}
