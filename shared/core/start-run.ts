import { isProjectAllowed } from '../config.ts';
import { isRunnerError, RunnerError } from '../errors.ts';
import { outcomeFields, outcomeOf } from './operation-outcome.ts';
import type { CoreDeps } from './ports.ts';
import { toPublicRun } from './public-run.ts';
import { commit, finished, runFields, touch, without } from './run-commit.ts';
import {
  activateKeyFor,
  type DedupeSource,
  dedupeKeyOf,
  executeKeyFor,
  requestHashOf,
  runIdFor,
} from './run-identity.ts';
import type { RunRecord, RunRequest, TriggerKind } from './run-record.ts';

export interface StartRunInput {
  readonly request: RunRequest;
  readonly trigger: TriggerKind;
  readonly dedupe: DedupeSource;
  /** Set for runs of the jobs file; `skip` then looks at this job's runs only. */
  readonly job?: { readonly name: string; readonly slot: string; readonly concurrency: 'skip' | 'allow' };
}

export interface StartRunResult {
  readonly record: RunRecord;
  /**
   * `started`: this call started it. `existing`: the key was seen before (nothing started).
   * `pending`: another delivery is starting it right now, or a transient failure left it to be retried.
   * `rejected`: the API refused the start (the record is FAILED; `error` says why).
   */
  readonly outcome: 'started' | 'existing' | 'pending' | 'rejected';
  readonly error?: RunnerError;
}

/** How long a start waits for DockerImage.Activate to finish before handing over to a retry. */
const ACTIVATION_WAIT_MS = 45_000;

/**
 * Starts a notebook run exactly once per dedupe key (design.md §6-§7):
 * 1. refuses a project outside ALLOWED_PROJECTS before anything else;
 * 2. claims the key in the ledger (create-if-absent) BEFORE calling the API, so a run that was started
 *    is always in the ledger;
 * 3. calls Execute (after DockerImage.Activate when asked) with an Idempotency-Key derived from the
 *    dedupe key, so a redelivery after a crash between the API call and the ledger write gets the same
 *    operation back instead of a second run.
 */
export async function startRun(
  input: StartRunInput,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<StartRunResult> {
  const { request } = input;
  if (!isProjectAllowed(deps.settings.allowedProjects, request.projectId)) {
    throw new RunnerError(
      'PROJECT_NOT_ALLOWED',
      `projectId: project ${request.projectId} is not in ALLOWED_PROJECTS`,
      {
        details: { field: 'projectId', projectId: request.projectId },
      },
    );
  }
  // A call through the API Gateway: the caller's own right to the project (design.md §8), after the
  // cheaper ALLOWED_PROJECTS rule and before anything is read or started.
  if (deps.access !== undefined && !(await deps.access.mayAct(request.projectId, signal))) {
    throw new RunnerError(
      'FORBIDDEN',
      `projectId: these credentials do not give access to project ${request.projectId}`,
      { details: { field: 'projectId', projectId: request.projectId } },
    );
  }
  const dedupeKey = dedupeKeyOf(input.dedupe);
  const runId = runIdFor(dedupeKey);
  const requestHash = requestHashOf(request);

  const seen = await deps.ledger.get(runId);
  if (seen !== undefined) return resume(seen, requestHash, deps, signal);

  const concurrency = input.job?.concurrency ?? request.concurrency ?? 'allow';
  if (concurrency === 'skip') {
    const running = await findRunning(input, deps);
    if (running !== undefined) {
      throw new RunnerError(
        'RUN_ALREADY_RUNNING',
        input.job === undefined
          ? `concurrency is "skip" and run ${running.runId} of ${request.projectId}/${request.notebookId} is still ${running.status}`
          : `job ${input.job.name}: concurrency is "skip" and its run ${running.runId} is still ${running.status}`,
        { details: { run: toPublicRun(running) } },
      );
    }
  }

  const now = deps.now();
  const timeoutSeconds = request.timeoutSeconds ?? deps.settings.runTimeoutSeconds;
  const record: RunRecord = {
    runId,
    dedupeKey,
    requestHash,
    request,
    trigger: input.trigger,
    projectId: request.projectId,
    ...(request.notebookId === undefined ? {} : { notebookId: request.notebookId }),
    status: 'STARTING',
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    deadline: new Date(now.getTime() + timeoutSeconds * 1000).toISOString(),
    // The start lease: if this invocation dies, the sweep re-drives the start after it.
    nextCheckAt: leaseUntil(now, deps).toISOString(),
    checks: 0,
    ...(input.job === undefined ? {} : { job: { name: input.job.name, slot: input.job.slot } }),
    version: 1,
  };
  const created = await deps.ledger.create(record);
  if (!created.created) return resume(created.record, requestHash, deps, signal);
  deps.log.info('run claimed', { ...runFields(created.record), dedupeKey });
  return driveStart(created.record, deps, signal);
}

function leaseUntil(now: Date, deps: CoreDeps): Date {
  return new Date(now.getTime() + deps.settings.startRecoverySeconds * 1000);
}

async function findRunning(input: StartRunInput, deps: CoreDeps): Promise<RunRecord | undefined> {
  const open = await deps.ledger.listOpen();
  return open.find((run) => {
    if (run.status !== 'STARTING' && run.status !== 'RUNNING') return false;
    if (input.job !== undefined) return run.job?.name === input.job.name;
    return run.projectId === input.request.projectId && run.notebookId === input.request.notebookId;
  });
}

/** A delivery for a key already in the ledger: answer the run; take over a start whose lease expired. */
async function resume(
  existing: RunRecord,
  requestHash: string,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<StartRunResult> {
  if (existing.requestHash !== requestHash) {
    // The key's run may be of a project this gateway caller cannot see: then say only that the key is taken.
    if (deps.access !== undefined && !(await deps.access.mayAct(existing.projectId, signal))) {
      throw new RunnerError(
        'IDEMPOTENCY_KEY_REUSED',
        'idempotencyKey: this key already belongs to another run with a different request; use a new key',
        { details: { field: 'idempotencyKey' } },
      );
    }
    throw new RunnerError(
      'IDEMPOTENCY_KEY_REUSED',
      `idempotencyKey: this key already belongs to run ${existing.runId} with a different request; use a new key`,
      { details: { field: 'idempotencyKey', run: toPublicRun(existing) } },
    );
  }
  if (existing.status !== 'STARTING') return { record: existing, outcome: 'existing' };
  const lease = await takeStartLease(existing, deps);
  if (lease === undefined) return { record: existing, outcome: 'pending' };
  return driveStart(lease, deps, signal);
}

/** Takes over a STARTING run whose lease has expired (its starter died or gave up). */
export async function takeStartLease(record: RunRecord, deps: CoreDeps): Promise<RunRecord | undefined> {
  const now = deps.now();
  if (record.status !== 'STARTING') return undefined;
  if (record.nextCheckAt !== undefined && Date.parse(record.nextCheckAt) > now.getTime()) return undefined;
  const result = await commit(
    deps,
    record,
    (latest) =>
      latest.status === 'STARTING' &&
      (latest.nextCheckAt === undefined || Date.parse(latest.nextCheckAt) <= now.getTime())
        ? touch(latest, now, { nextCheckAt: leaseUntil(now, deps).toISOString() })
        : undefined,
    0,
  );
  return result.written ? result.record : undefined;
}

/**
 * Runs the start of a claimed record (this caller holds its lease): activation, Execute, then the
 * ledger write. Used by startRun and by the sweep's recovery of stale claims.
 */
export async function driveStart(
  record: RunRecord,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<StartRunResult> {
  const now = deps.now();
  if (record.cancelRequestedAt !== undefined) {
    const result = await commit(deps, record, (latest) =>
      latest.status === 'STARTING'
        ? finished(latest, now, 'CANCELLED', {
            error: { code: 'CANCELLED', message: 'cancelled before it started' },
          })
        : undefined,
    );
    return { record: result.record, outcome: 'existing' };
  }
  if (Date.parse(record.deadline) <= now.getTime()) {
    const result = await commit(deps, record, (latest) =>
      latest.status === 'STARTING'
        ? finished(latest, now, 'FAILED', {
            error: { code: 'NOT_STARTED', message: 'the run could not be started before its deadline' },
          })
        : undefined,
    );
    return { record: result.record, outcome: 'rejected' };
  }
  const { request } = record;
  try {
    if (request.notebookId === undefined) {
      // The run-request parser requires notebookId for execute; a record without it is a bug.
      throw new RunnerError('INTERNAL', `run ${record.runId}: an execute run without notebookId`);
    }
    if (request.dockerId !== undefined) {
      const failure = await activateImage(record, request.dockerId, deps, signal);
      if (failure !== undefined) return reject(record, failure, deps);
    }
    const operation = await deps.datasphere.execute(
      request.projectId,
      {
        notebookId: request.notebookId,
        ...(request.inputVariables === undefined ? {} : { inputVariables: { ...request.inputVariables } }),
        ...(request.outputVariableNames === undefined
          ? {}
          : { outputVariableNames: [...request.outputVariableNames] }),
        ...(request.spec === undefined ? {} : { spec: request.spec }),
        ...(request.sparkConnectorId === undefined ? {} : { sparkConnectorId: request.sparkConnectorId }),
      },
      { idempotencyKey: executeKeyFor(record.dedupeKey), ...(signal === undefined ? {} : { signal }) },
    );
    const startedAt = deps.now();
    const result = await commit(deps, record, (latest) => {
      if (latest.operationId !== undefined) return undefined;
      const running = touch(without(latest, 'error'), startedAt, {
        status: 'RUNNING',
        operationId: operation.id,
        startedAt: startedAt.toISOString(),
        // Not at once: a fresh operation is often not visible yet, and checking at the first sweep that
        // comes a full tick after the start keeps a one-hour run within 60 Operation.Get calls.
        nextCheckAt: new Date(
          Math.min(
            startedAt.getTime() + deps.settings.checkFirstDelaySeconds * 1000,
            Date.parse(latest.deadline),
          ),
        ).toISOString(),
      });
      const outcome = outcomeOf(operation);
      if (!outcome.done) return running;
      return finished(running, startedAt, outcome.status, outcomeFields(outcome));
    });
    if (result.record.cancelRequestedAt !== undefined && result.record.status === 'RUNNING') {
      // A cancel arrived while Execute was in flight: pass it on now that there is an operation.
      await deps.operations
        .cancel(operation.id, signal === undefined ? {} : { signal })
        .catch((error: unknown) => {
          deps.log.warn('cancel after start failed; the sweep will retry', {
            ...runFields(result.record),
            error,
          });
        });
    }
    return { record: result.record, outcome: 'started' };
  } catch (error) {
    if (isPermanentApiFailure(error)) return reject(record, error as RunnerError, deps);
    // Transient: release the lease so a redelivery (or the sweep) can try again with the same key.
    const retryAt = deps.now();
    await commit(deps, record, (latest) =>
      latest.status === 'STARTING'
        ? touch(latest, retryAt, { nextCheckAt: retryAt.toISOString() })
        : undefined,
    ).catch(() => undefined);
    throw error;
  }
}

function isPermanentApiFailure(error: unknown): boolean {
  if (!isRunnerError(error)) return false;
  if (error.code !== 'API_ERROR') return false;
  return (error as { retryable?: unknown }).retryable !== true;
}

async function reject(record: RunRecord, error: RunnerError, deps: CoreDeps): Promise<StartRunResult> {
  const now = deps.now();
  const api = error as unknown as { rpcCode?: number; apiMessage?: string };
  const result = await commit(deps, record, (latest) =>
    latest.status === 'STARTING'
      ? finished(latest, now, 'FAILED', {
          error: { code: api.rpcCode ?? error.code, message: error.message },
        })
      : undefined,
  );
  deps.log.error('run start rejected', { ...runFields(result.record), error });
  return { record: result.record, outcome: 'rejected', error };
}

/** Activates the Docker image and waits for it; returns a permanent failure, throws a transient one. */
async function activateImage(
  record: RunRecord,
  dockerId: string,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<RunnerError | undefined> {
  const opts = {
    idempotencyKey: activateKeyFor(record.dedupeKey),
    ...(signal === undefined ? {} : { signal }),
  };
  let operation = await deps.datasphere.activateDockerImage({ projectId: record.projectId, dockerId }, opts);
  const started = deps.now().getTime();
  let delay = 500;
  while (!operation.done) {
    if (deps.now().getTime() - started > ACTIVATION_WAIT_MS) {
      throw new RunnerError(
        'API_TIMEOUT',
        `DataSphere DockerImage.Activate of ${dockerId} in ${record.projectId} is not done after ${ACTIVATION_WAIT_MS / 1000} s; the start will be retried`,
      );
    }
    await deps.sleep(delay, signal);
    delay = Math.min(delay * 2, 5000);
    operation = await deps.operations.get(operation.id, signal === undefined ? {} : { signal });
  }
  if (operation.error !== undefined) {
    return new RunnerError(
      'API_ERROR',
      `DataSphere DockerImage.Activate of ${dockerId} failed: ${operation.error.message} (code ${operation.error.code})`,
      { details: { rpcCode: operation.error.code } },
    );
  }
  deps.log.info('docker image activated', {
    ...runFields(record),
    dockerId,
    activationOperationId: operation.id,
  });
  return undefined;
}
