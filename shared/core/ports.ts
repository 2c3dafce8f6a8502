import type { AnyMessage, Operation } from '../api/protojson.ts';
import type { Config } from '../config.ts';
import type { RunLedger } from '../ledger/run-ledger.ts';
import type { Logger } from '../log.ts';
import type { JobDefinition } from '../schedule/jobs-file.ts';
import type { RunRecord, RunRequest } from './run-record.ts';

/** What the core needs from the DataSphere API (the real client satisfies it structurally). */
export interface DataSpherePort {
  execute(
    projectId: string,
    body: {
      notebookId: string;
      inputVariables?: Record<string, string | number | boolean>;
      outputVariableNames?: string[];
      spec?: string;
      sparkConnectorId?: string;
    },
    opts: { idempotencyKey: string; signal?: AbortSignal },
  ): Promise<Operation<AnyMessage, AnyMessage>>;
  activateDockerImage(
    input: { projectId: string; dockerId: string },
    opts: { idempotencyKey: string; signal?: AbortSignal },
  ): Promise<Operation<AnyMessage, AnyMessage>>;
  /** Project.Open; the answer's session token is already dropped by the client. */
  openProject(
    projectId: string,
    opts: { idempotencyKey: string; signal?: AbortSignal },
  ): Promise<Operation<AnyMessage, AnyMessage>>;
}

/** What the core needs from the Operation API. */
export interface OperationPort {
  get(operationId: string, opts?: { signal?: AbortSignal }): Promise<Operation<AnyMessage, AnyMessage>>;
  cancel(operationId: string, opts?: { signal?: AbortSignal }): Promise<Operation<AnyMessage, AnyMessage>>;
}

/** Final-report destinations (webhook, queue). Only the check function has one. */
export interface NotifierPort {
  readonly destinations: readonly string[];
  deliver(destination: string, record: RunRecord, signal?: AbortSignal): Promise<void>;
}

/**
 * Told about every due run a sweep looked at, so that figures (metrics) can be drawn from what the sweep
 * already read, without more ledger reads. Implementations only count: they must not throw or block.
 */
export interface SweepObserver {
  /** A due run was checked; `after` is the record as it now stands. */
  checked(before: RunRecord, after: RunRecord): void;
  /** A due run was not checked: its check threw (`error`), or the sweep ran out of time first. */
  unchecked(before: RunRecord, error?: unknown): void;
}

/**
 * Who a call through the API Gateway comes from, and which projects it may act on (design.md §8). Built
 * by shared/auth from the caller's credential; the core asks it before it starts, shows, lists or cancels
 * a run. It already excludes projects outside ALLOWED_PROJECTS. Never holds a secret in a readable field.
 */
export interface CallerAccess {
  /** Names the caller in logs: `key:<name>`, `iam:<token hash prefix>`; never the credential. */
  readonly caller: string;
  /**
   * Resolves once the credential is known good, throws UNAUTHENTICATED otherwise: an API key is known good
   * at once, a token after one DataSphere call (cached). The core calls it before it reads anything for
   * the caller, so a caller with a bad credential never costs a ledger read.
   */
  verify(signal?: AbortSignal): Promise<void>;
  /** The decision when it is known without a call (an API key's projects, a cached token decision). */
  known(projectId: string): boolean | undefined;
  /**
   * Whether the caller may act on `projectId`. Throws UNAUTHENTICATED when the credential turns out to
   * be invalid (an expired token), and the API's error when it cannot be told (transient failure).
   */
  mayAct(projectId: string, signal?: AbortSignal): Promise<boolean>;
}

/** The settings the core reads (a subset of Config, so tests can build it by hand). */
export type CoreSettings = Pick<
  Config,
  | 'allowedProjects'
  | 'runTimeoutSeconds'
  | 'checkConcurrency'
  | 'checkFirstDelaySeconds'
  | 'checkIntervalSeconds'
  | 'checkMaxIntervalSeconds'
  | 'checkBackoffFactor'
  | 'checkDueSlackSeconds'
  | 'sweepLimit'
  | 'notFoundGraceSeconds'
  | 'startRecoverySeconds'
  | 'scheduleCatchUpMinutes'
>;

export interface CoreDeps {
  readonly ledger: RunLedger;
  readonly datasphere: DataSpherePort;
  readonly operations: OperationPort;
  readonly settings: CoreSettings;
  readonly log: Logger;
  readonly now: () => Date;
  /** Waits `ms` (aborted by `signal`); injected so tests never sleep for real. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly notifier?: NotifierPort;
  /** Only the check function's sweep has one (metrics). */
  readonly sweepObserver?: SweepObserver;
  /**
   * Set for every call that came through the API Gateway (shared/triggers/entry-points.ts); absent for
   * a direct invocation and the triggers, which IAM has authorized (`serverless.functions.invoker`).
   */
  readonly access?: CallerAccess;
  /**
   * The jobs of the jobs file that run `after` another job: the sweep that settles a job's run starts
   * them (job chains). Only the check function has them.
   */
  readonly jobs?: readonly JobDefinition<RunRequest>[];
}

export const DEFAULT_SETTINGS: CoreSettings = {
  allowedProjects: '*',
  runTimeoutSeconds: 86400,
  checkConcurrency: 32,
  checkFirstDelaySeconds: 0,
  checkIntervalSeconds: 20,
  checkMaxIntervalSeconds: 60,
  checkBackoffFactor: 2,
  checkDueSlackSeconds: 15,
  sweepLimit: 10000,
  notFoundGraceSeconds: 300,
  startRecoverySeconds: 120,
  scheduleCatchUpMinutes: 15,
};
