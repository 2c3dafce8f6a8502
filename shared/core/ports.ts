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
