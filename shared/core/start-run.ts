import { isProjectAllowed } from '../config.ts';
import { isRunnerError, RunnerError } from '../errors.ts';
import { sendStart, startsAtOnce } from './action-start.ts';
import { isNotFound } from './api-failure.ts';
import { claimSlot, scopeOf } from './concurrency-slot.ts';
import { outcomeFields, outcomeOf } from './operation-outcome.ts';
import type { CoreDeps } from './ports.ts';
import { assertMayAct } from './project-access.ts';
import { toPublicRun } from './public-run.ts';
import { replaceHolder } from './replace-run.ts';
import { commit, finished, runFields, touch, without } from './run-commit.ts';
import { withEvent } from './run-events.ts';
import { activateKeyFor, type DedupeSource, dedupeKeyOf, requestHashOf, runIdFor } from './run-identity.ts';
import { claimOrWait, kickScope, queuedRecord } from './run-queue.ts';
import {
  actionOf,
  type ConcurrencyPolicy,
  type RunRecord,
  type RunRequest,
  type TriggerKind,
} from './run-record.ts';
import { timeOutRun } from './time-out.ts';
import { endUnsentStart, mustNotStart } from './unsent-start.ts';

export interface StartRunInput {
  readonly request: RunRequest;
  readonly trigger: TriggerKind;
  readonly dedupe: DedupeSource;
  /** Set for runs of the jobs file; `skip` then looks at this job's runs only. */
  readonly job?: { readonly name: string; readonly slot: string; readonly concurrency: ConcurrencyPolicy };
  /** The upstream run whose ending started this one (job chains). */
  readonly upstream?: RunRecord['upstream'];
}

export interface StartRunResult {
  readonly record: RunRecord;
  /**
   * `started`: this call started it. `existing`: the key was seen before (nothing started).
   * `pending`: another delivery is starting it right now, or a transient failure left it to be retried.
   * `rejected`: the API refused the start (the record is FAILED; `error` says why).
   * `queued`: it waits (QUEUED) for the run that holds its scope (`concurrency: "queue"`/`"replace"`).
   */
  readonly outcome: 'started' | 'existing' | 'pending' | 'rejected' | 'queued';
  readonly error?: RunnerError;
}

/** How long a start waits for DockerImage.Activate to finish before handing over to a retry. */
const ACTIVATION_WAIT_MS = 45_000;

/**
 * Starts a notebook run exactly once per dedupe key (design.md §6-§7):
 * 1. refuses a project outside ALLOWED_PROJECTS before anything else;
 * 2. with `concurrency: "skip"`, takes the concurrency slot of its project+notebook (or job) in the
 *    ledger, create-if-absent: the check and the claim are one atomic step (concurrency-slot.ts);
 * 3. claims the key in the ledger (create-if-absent) BEFORE calling the API, so a run that was started
 *    is always in the ledger;
 * 4. calls Execute (after DockerImage.Activate when asked) with an Idempotency-Key derived from the
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
  await assertMayAct(deps.access, request.projectId, signal);
  const dedupeKey = dedupeKeyOf(input.dedupe);
  const runId = runIdFor(dedupeKey);
  const requestHash = requestHashOf(request);

  const seen = await deps.ledger.get(runId);
  if (seen !== undefined) return resume(seen, requestHash, deps, signal);

  const concurrency = input.job?.concurrency ?? request.concurrency ?? 'allow';
  const scope = concurrency === 'allow' ? undefined : scopeOf(request, input.job);
  if (scope !== undefined && concurrency === 'skip') {
    const refusal = (holder: string, status: string) =>
      input.job === undefined
        ? `concurrency is "skip" and run ${holder} of ${scopeNoun(request)} is still ${status}`
        : `job ${input.job.name}: concurrency is "skip" and its run ${holder} is still ${status}`;
    await claimSlot(scope, runId, deps, refusal);
    // Runs started with "allow" do not hold the slot, yet count as running for "skip" (design.md §4).
    const unscoped = await findUnscopedRunning(input, deps).catch(async (error: unknown) => {
      await abandonSlot(scope, runId, deps);
      throw error;
    });
    if (unscoped !== undefined) {
      const existing = await abandonSlot(scope, runId, deps);
      // Another delivery of this very key got through first: answer its run.
      if (existing !== undefined) return resume(existing, requestHash, deps, signal);
      throw new RunnerError('RUN_ALREADY_RUNNING', refusal(unscoped.runId, unscoped.status), {
        details: { run: toPublicRun(unscoped) },
      });
    }
  }

  // queue / replace: the slot, or a place in its queue behind the run that holds it (run-queue.ts).
  const waitFor =
    scope !== undefined && concurrency !== 'skip' ? await claimOrWait(scope, runId, deps) : undefined;

  const now = deps.now();
  const timeoutSeconds = request.timeoutSeconds ?? deps.settings.runTimeoutSeconds;
  const claim: RunRecord = {
    runId,
    dedupeKey,
    requestHash,
    request,
    trigger: input.trigger,
    ...(request.action === undefined ? {} : { action: request.action }),
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
    ...(scope === undefined ? {} : { concurrencyScope: scope }),
    ...(input.upstream === undefined ? {} : { upstream: input.upstream }),
    ...(request.retry === undefined ? {} : { attempt: 1 }),
    // The start call is the very next step (for an execute with a Docker image, only after the
    // activation): from here on the start's outcome is unknown until the operation id is recorded.
    // Saying so in the claim costs no write; an activation run says so in its own write after the
    // activation (driveStart).
    ...(startsAtOnce(request) ? { startSentAt: now.toISOString() } : {}),
    version: 1,
  };
  const record = withEvent(claim, 'claimed', now);
  let created: Awaited<ReturnType<CoreDeps['ledger']['create']>>;
  try {
    created = await deps.ledger.create(
      waitFor === undefined ? record : queuedRecord(record, now, waitFor, concurrency === 'replace'),
    );
  } catch (error) {
    if (scope !== undefined && waitFor === undefined) await abandonSlot(scope, runId, deps);
    throw error;
  }
  if (!created.created) return resume(created.record, requestHash, deps, signal);
  if (waitFor !== undefined) {
    return waitInQueue(created.record, waitFor, concurrency === 'replace', deps, signal);
  }
  deps.log.info('run claimed', { ...runFields(created.record), dedupeKey });
  return driveStart(created.record, deps, signal);
}

/**
 * A run just recorded QUEUED behind `holder`: a replacement asks the holder to stop (replace-run.ts);
 * then the queue is moved if the holder ended meanwhile (its hand-over may have looked before this run
 * was recorded), which may start this run, or an older waiting one, right here.
 */
async function waitInQueue(
  queued: RunRecord,
  holder: string,
  replacing: boolean,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<StartRunResult> {
  const scope = queued.concurrencyScope ?? '';
  deps.log.info('run queued', { ...runFields(queued), scope, behind: holder, replacing });
  try {
    if (replacing) await replaceHolder(queued, holder, deps, signal);
    const promoted = await kickScope(scope, deps);
    if (promoted?.runId === queued.runId) return driveStart(promoted, deps, signal);
    if (promoted !== undefined) {
      await driveStart(promoted, deps, signal).catch((error: unknown) => {
        deps.log.warn('start of a queued run failed; the sweep will retry it', {
          ...runFields(promoted),
          error,
        });
      });
    }
  } catch (error) {
    // The run is recorded and waits; the sweep's look at it (run-queue.ts) finishes what failed here.
    deps.log.warn('queue step failed after the run was queued; the sweep will finish it', {
      ...runFields(queued),
      error,
    });
  }
  return {
    record: (await deps.ledger.get(queued.runId).catch(() => undefined)) ?? queued,
    outcome: 'queued',
  };
}

/**
 * Frees a slot this start took but will not use, unless a record of this run exists (another delivery
 * of the same key created it and runs under the same slot): that record is returned instead. When even
 * that cannot be read, the slot stays; a slot whose holder never appears is recovered after a lease.
 */
async function abandonSlot(scope: string, runId: string, deps: CoreDeps): Promise<RunRecord | undefined> {
  let existing: RunRecord | undefined;
  try {
    existing = await deps.ledger.get(runId);
  } catch {
    return undefined;
  }
  if (existing === undefined) await deps.ledger.releaseSlot(scope, runId).catch(() => false);
  return existing;
}

function leaseUntil(now: Date, deps: CoreDeps): Date {
  return new Date(now.getTime() + deps.settings.startRecoverySeconds * 1000);
}

/**
 * A run of the same scope (project+notebook, the same action's target, or job) started without a
 * concurrency scope (`allow`) that is still starting or running. Skip runs among themselves are kept
 * apart by the slot; this only finds the runs that never take it (unreadable records are set aside by
 * the ledger, never block this).
 */
async function findUnscopedRunning(input: StartRunInput, deps: CoreDeps): Promise<RunRecord | undefined> {
  const open = await deps.ledger.listOpen();
  const scope = scopeOf(input.request);
  return open.find((run) => {
    if (run.concurrencyScope !== undefined) return false;
    if (run.status !== 'STARTING' && run.status !== 'RUNNING' && run.status !== 'QUEUED') return false;
    if (input.job !== undefined) return run.job?.name === input.job.name;
    return scopeOf(run.request) === scope;
  });
}

/** What a skip refusal names: `p1/nb.ipynb`, `the Open of p1`, `the Docker image activation in p1`. */
function scopeNoun(request: RunRequest): string {
  switch (actionOf(request)) {
    case 'open':
      return `the Open of ${request.projectId}`;
    case 'activate':
      return `the Docker image activation in ${request.projectId}`;
    case 'execute':
      return `${request.projectId}/${request.notebookId}`;
  }
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
        ? withEvent(
            touch(latest, now, { nextCheckAt: leaseUntil(now, deps).toISOString() }),
            'start-recovered',
            now,
          )
        : undefined,
    0,
  );
  return result.written ? result.record : undefined;
}

/**
 * Runs the start of a claimed record (this caller holds its lease): activation, Execute, then the
 * ledger write. Used by startRun and by the sweep's recovery of stale claims.
 *
 * A claim that must not start any more (past its deadline, or cancelled) is ended without an API call
 * only when it never sent its start (`startSentAt` absent). Otherwise its outcome is unknown (a starter
 * may have died after Execute took effect): Execute is re-driven with the same Idempotency-Key, which
 * returns the operation if it exists, and what comes back is cancelled and followed to its end, so a
 * crash never leaves a notebook running unwatched (design.md §7).
 */
export async function driveStart(
  record: RunRecord,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<StartRunResult> {
  const stopping = mustNotStart(record, deps.now());
  if (stopping && record.startSentAt === undefined) {
    const ended = await endUnsentStart(record, deps);
    return {
      record: ended.record,
      outcome: ended.record.status === 'CANCELLED' ? 'existing' : 'rejected',
    };
  }
  const { request } = record;
  let current = record;
  try {
    if (current.startSentAt === undefined) {
      if (!startsAtOnce(request) && request.dockerId !== undefined) {
        const failure = await activateImage(current, request.dockerId, deps, signal);
        if (failure !== undefined) return reject(current, failure, deps);
      }
      // Say the call is about to be sent before sending it (only runs that activated first get here).
      const marked = await commit(deps, current, (latest) =>
        latest.status === 'STARTING' && latest.startSentAt === undefined
          ? touch(latest, deps.now(), { startSentAt: deps.now().toISOString() })
          : undefined,
      );
      if (!marked.written) return { record: marked.record, outcome: 'pending' };
      current = marked.record;
      if (mustNotStart(current, deps.now())) return driveStart(current, deps, signal);
    }
    if (stopping)
      deps.log.warn('re-driving a start of unknown outcome to cancel what it started', runFields(current));
    // Execute, Open or Activate, with the Idempotency-Key of this run and action (action-start.ts).
    const operation = await sendStart(current, deps, signal);
    const startedAt = deps.now();
    const result = await commit(deps, current, (latest) => {
      if (latest.operationId !== undefined) return undefined;
      const started = withEvent(without(latest, 'error'), 'started', startedAt, operation.id);
      const running = touch(started, startedAt, {
        status: 'RUNNING',
        operationId: operation.id,
        startedAt: startedAt.toISOString(),
        nextCheckAt: new Date(
          Math.min(
            startedAt.getTime() + deps.settings.checkFirstDelaySeconds * 1000,
            Date.parse(latest.deadline),
          ),
        ).toISOString(),
      });
      const outcome = outcomeOf(operation, actionOf(latest));
      if (!outcome.done) return running;
      return finished(running, startedAt, outcome.status, outcomeFields(outcome));
    });
    let started = result.record;
    if (started.status === 'RUNNING' && started.operationId === operation.id) {
      if (Date.parse(started.deadline) <= deps.now().getTime()) {
        // Past its deadline: cancel what the start found and record TIMED_OUT with its operation id.
        started = (await timeOutRun(started, operation.id, deps, { attempts: 5 })).record;
      } else if (started.cancelRequestedAt !== undefined) {
        // A cancel arrived while the start was in flight (or before a re-drive): pass it on now.
        await deps.operations
          .cancel(operation.id, signal === undefined ? {} : { signal })
          .catch((error: unknown) => {
            deps.log.warn('cancel after start failed; the sweep will retry', {
              ...runFields(started),
              error,
            });
          });
      }
    }
    return { record: started, outcome: stopping ? 'existing' : 'started' };
  } catch (error) {
    if (isPermanentApiFailure(error)) return reject(current, error as RunnerError, deps);
    // Transient: release the lease so a redelivery (or the sweep) can try again with the same key.
    const retryAt = deps.now();
    await commit(deps, current, (latest) =>
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
    try {
      operation = await deps.operations.get(operation.id, signal === undefined ? {} : { signal });
    } catch (error) {
      // Right after Activate the operation may not be visible on every replica yet: the same grace as
      // the sweep's checks (NOT_FOUND_GRACE_SECONDS) before a 404 counts.
      const graceMs = deps.settings.notFoundGraceSeconds * 1000;
      if (!isNotFound(error) || deps.now().getTime() - started > graceMs) throw error;
      deps.log.debug('activation not visible yet; waiting', { ...runFields(record), dockerId });
    }
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
