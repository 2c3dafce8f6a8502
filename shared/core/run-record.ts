/**
 * The domain types of the product (design.md §4-§5): the run request and the run record. They belong to
 * the core; the ledger stores records as plain JSON documents and depends on these types, never the other
 * way round. `version` is the compare-and-set counter every store enforces.
 */

/**
 * Statuses of a run. `STARTING`: the dedupe key is claimed, the start is not yet confirmed. `QUEUED`:
 * waiting for the running run of the same concurrency scope to end (`concurrency: "queue"`).
 */
export const RUN_STATUSES = [
  'STARTING',
  'QUEUED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses after which the run's outcome is decided (the operation may still need a Cancel/Get). */
export const FINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
]);

/** `chain`: started by the ending of an upstream job's run (`after` in the jobs file). */
export const TRIGGER_KINDS = ['http', 'timer', 'queue', 'schedule', 'chain'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** What a run does: Project.Execute (a notebook), Project.Open, or DockerImage.Activate (design.md §4). */
export const RUN_ACTIONS = ['execute', 'open', 'activate'] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

/** What to do when a run of the same project+notebook (or job) is STARTING/RUNNING/QUEUED. */
export const CONCURRENCY_POLICIES = ['allow', 'skip', 'queue', 'replace'] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

/** Statuses a retry policy may react to. */
export const RETRYABLE_STATUSES = ['FAILED', 'TIMED_OUT'] as const;

/** `retry` of a run request, with its defaults applied (design.md §4). */
export interface RetryPolicy {
  /** Total attempts, 1..10. */
  readonly attempts: number;
  readonly delaySeconds: number;
  readonly backoff: number;
  readonly on: readonly (typeof RETRYABLE_STATUSES)[number][];
}

/**
 * The validated run request (design.md §4) without its idempotency key. `action` is absent for
 * `execute` (the default), so that a request that spells the default out hashes like one that does not.
 * `notebookId` is required for `execute` and absent for `open`/`activate`.
 */
export interface RunRequest {
  readonly action?: Exclude<RunAction, 'execute'>;
  readonly projectId: string;
  readonly notebookId?: string;
  readonly inputVariables?: Readonly<Record<string, string | number | boolean>>;
  readonly outputVariableNames?: readonly string[];
  readonly spec?: string;
  readonly sparkConnectorId?: string;
  readonly dockerId?: string;
  readonly timeoutSeconds?: number;
  readonly concurrency?: ConcurrencyPolicy;
  readonly retry?: RetryPolicy;
}

/** One entry of a run's short timeline (`events`, bounded: see MAX_RUN_EVENTS). */
export interface RunEvent {
  readonly at: string;
  readonly type:
    | 'claimed'
    | 'queued'
    | 'started'
    | 'cancel-requested'
    | 'finished'
    | 'reported'
    | 'retry-scheduled'
    | 'start-recovered';
  /** A short, non-secret note (a status, a reason, a runId). */
  readonly detail?: string;
}

/** Most timeline entries a record keeps (the oldest are dropped first, `claimed` is kept). */
export const MAX_RUN_EVENTS = 20;

/**
 * The error code of a missed scheduled slot: a record in the slot's place that never ran and only
 * reports that the slot was missed (slot-watermark.ts). It is FAILED, has no operation, and its report is
 * the warning "scheduled slot missed" and a `run.missed` notification instead of "run finished".
 */
export const MISSED_SLOT_CODE = 'MISSED';

/** Whether `record` stands for a missed scheduled slot (see MISSED_SLOT_CODE). */
export const isMissedSlot = (record: Pick<RunRecord, 'error' | 'job' | 'operationId'>): boolean =>
  record.error?.code === MISSED_SLOT_CODE && record.job !== undefined && record.operationId === undefined;

/** The action of a record (records written before actions existed have none: they executed). */
export const actionOf = (record: { readonly action?: RunAction }): RunAction => record.action ?? 'execute';

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
  /** `execute` when absent (see actionOf). */
  readonly action?: RunAction;
  readonly projectId: string;
  /** Absent for `open` and `activate` runs. */
  readonly notebookId?: string;
  readonly status: RunStatus;
  readonly operationId?: string;
  /** `executionStatus` of the finished Execute operation (`OK`, `ERROR`, `ABORTED`). */
  readonly executionStatus?: string;
  readonly error?: RunError;
  /**
   * What the finished operation returned that is safe to show (e.g. `projectUrl` of an Open). Never a
   * session token or any other credential.
   */
  readonly result?: Readonly<Record<string, string | number | boolean>>;
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
  readonly cancelReason?: 'user' | 'deadline' | 'replaced';
  /** The run that replaced this one (`concurrency: "replace"`). */
  readonly replacedBy?: string;
  /** The run this one replaces (`concurrency: "replace"`): it waits, QUEUED, until that one's operation is done. */
  readonly replaces?: string;
  /** The Yandex operation reported done (the run may be final earlier, e.g. TIMED_OUT). */
  readonly operationDone?: boolean;
  /**
   * The final status was reported (log line "run finished"), recorded after the line was written. A
   * final run without it has a report still to log (again, if its writer died after logging it).
   */
  readonly reportedAt?: string;
  /**
   * From this time on the start call (Execute) may have reached the API: until the operation id is
   * recorded the start's outcome is unknown, and the run may be called not started only after its
   * start was re-driven with the same Idempotency-Key. Absent: nothing was sent yet, so a claim past
   * its deadline or cancelled can be ended without an API call.
   */
  readonly startSentAt?: string;
  /** Scheduled job that started this run, and the scheduled minute (ISO). */
  readonly job?: { readonly name: string; readonly slot: string };
  /** The concurrency scope this run claims or waits for (`project:<p>/<nb>` or `job:<name>`), when not `allow`. */
  readonly concurrencyScope?: string;
  /** 1-based attempt number, when the request has `retry`. */
  readonly attempt?: number;
  /** runIds of the earlier attempts, oldest first. */
  readonly attempts?: readonly string[];
  /** runId of the next attempt, once scheduled (the link back from an earlier attempt). */
  readonly retriedBy?: string;
  /**
   * When the next attempt is due (ISO): set by the write that ended this attempt in one of `retry.on`
   * with attempts left (retry-plan.ts). While it is set and `retriedBy` is not, the run's outcome is not
   * final: its report is deferred and its concurrency slot is kept for the next attempt.
   */
  readonly retryAt?: string;
  /** The upstream run that started this one (job chains: `after`). */
  readonly upstream?: { readonly runId: string; readonly job?: string; readonly status: RunStatus };
  /** When this run's downstream jobs (job chains) were started: set once, by the sweep that started them. */
  readonly downstreamStartedAt?: string;
  /** A short timeline (claimed, started, cancel requested, finished, reported, retry scheduled). */
  readonly events?: readonly RunEvent[];
  /** Notification delivery per destination name (`webhook`, `queue`). */
  readonly notifications?: Readonly<Record<string, DeliveryState>>;
  /** Compare-and-set counter: 1 on create, +1 on each successful update. */
  readonly version: number;
}
