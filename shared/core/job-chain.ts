import { isRunnerError } from '../errors.ts';
import type { ChainCondition, JobDefinition } from '../schedule/jobs-file.ts';
import type { CoreDeps } from './ports.ts';
import { isIntermediate } from './retry-plan.ts';
import { runFields } from './run-commit.ts';
import {
  FINAL_STATUSES,
  isMissedSlot,
  type RunRecord,
  type RunRequest,
  type RunStatus,
} from './run-record.ts';
import { startRun } from './start-run.ts';

/**
 * Job chains (`after: {job, on}` in the jobs file): the sweep that settles the ending of a job's run
 * starts the jobs that run after it, once per upstream run: the downstream run's dedupe key is made of
 * the downstream job and the upstream runId, so overlapping sweeps, a sweep killed half way and every
 * later settle pass all meet the same claim (create-if-absent) and start it at most once. The
 * downstream run learns about its upstream through input variables (UPSTREAM_VARIABLES) and `upstream`
 * in its record. Only the outcome of a run counts: an attempt that will be retried, or a missed slot,
 * starts nothing.
 */

/** Largest input variable value a run request may carry (4 KiB, shared/triggers/size-limits.ts). */
const VARIABLE_BYTES = 4096;

/** Whether a run that ended as `status` starts a job chained with `on`. */
export function chainMatches(on: ChainCondition, status: RunStatus): boolean {
  switch (on) {
    case 'success':
      return status === 'SUCCEEDED';
    case 'failure':
      return status === 'FAILED' || status === 'TIMED_OUT';
    case 'always':
      return FINAL_STATUSES.has(status);
  }
}

/** The jobs to start now that `record` has ended (none for an attempt to be retried, or a missed slot). */
export function downstreamOf(
  record: RunRecord,
  jobs: readonly JobDefinition<RunRequest>[],
): JobDefinition<RunRequest>[] {
  const upstream = record.job?.name;
  if (upstream === undefined || !FINAL_STATUSES.has(record.status)) return [];
  if (isIntermediate(record) || isMissedSlot(record)) return [];
  return jobs.filter((job) => job.after?.job === upstream && chainMatches(job.after.on, record.status));
}

/** The dedupe key of the run of `job` started by the upstream run `upstreamRunId`. */
export function chainDedupeKey(job: string, upstreamRunId: string): string {
  return `chain:${job}:${upstreamRunId}`;
}

/**
 * The run request of a chained run: the job's own, plus (for a notebook run) the upstream's runId,
 * status, job and `result` (JSON, left out when over 4 KiB) as input variables.
 */
export function chainedRequest(run: RunRequest, upstream: RunRecord): RunRequest {
  if (run.action !== undefined) return run; // Open/Activate take no input variables
  const result = upstream.result === undefined ? undefined : JSON.stringify(upstream.result);
  return {
    ...run,
    inputVariables: {
      ...run.inputVariables,
      UPSTREAM_RUN_ID: upstream.runId,
      UPSTREAM_STATUS: upstream.status,
      UPSTREAM_JOB: upstream.job?.name ?? '',
      ...(result !== undefined && Buffer.byteLength(result) <= VARIABLE_BYTES
        ? { UPSTREAM_RESULT: result }
        : {}),
    },
  };
}

/**
 * Starts every job chained after `record` (at most once each, whoever asks). Returns false when one
 * could not be handled for a transient reason (the ledger or the API failing): the caller keeps the
 * upstream run due and asks again. A refusal that will not change (the job's previous run still
 * running with `skip`, a project not allowed) is logged and counts as handled.
 */
export async function startDownstream(
  record: RunRecord,
  deps: CoreDeps,
  signal?: AbortSignal,
): Promise<boolean> {
  const jobs = downstreamOf(record, deps.jobs ?? []);
  let handled = true;
  for (const job of jobs) {
    const fields = { job: job.name, upstreamRunId: record.runId, upstreamJob: record.job?.name };
    try {
      const started = await startRun(
        {
          request: chainedRequest(job.run, record),
          trigger: 'chain',
          dedupe: { kind: 'chain', key: chainDedupeKey(job.name, record.runId) },
          job: { name: job.name, slot: record.finishedAt ?? record.updatedAt, concurrency: job.concurrency },
          upstream: {
            runId: record.runId,
            status: record.status,
            ...(record.job === undefined ? {} : { job: record.job.name }),
          },
        },
        deps,
        signal,
      );
      if (started.outcome !== 'existing') {
        deps.log.info('chained run started', {
          ...fields,
          ...runFields(started.record),
          outcome: started.outcome,
        });
      }
    } catch (error) {
      if (isRunnerError(error) && error.code === 'RUN_ALREADY_RUNNING') {
        deps.log.info("chained run skipped: the job's previous run is still running", { ...fields, error });
      } else if (
        isRunnerError(error) &&
        (error.code === 'PROJECT_NOT_ALLOWED' || error.code === 'IDEMPOTENCY_KEY_REUSED')
      ) {
        deps.log.error('chained run not started', { ...fields, error });
      } else {
        deps.log.warn('chained run could not be started; the sweep will try again', { ...fields, error });
        handled = false;
      }
    }
  }
  return handled;
}
