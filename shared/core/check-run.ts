import { isRunnerError } from '../errors.ts';
import { isNotFound } from './api-failure.ts';
import { MAX_DELIVERY_ATTEMPTS, nextCheckAt, nextDeliveryAt, reportClaimUntil } from './check-schedule.ts';
import { outcomeFields, outcomeOf } from './operation-outcome.ts';
import type { CoreDeps } from './ports.ts';
import { checkQueued } from './queued-check.ts';
import { isIntermediate, retryPending } from './retry-plan.ts';
import { startDueRetry } from './retry-start.ts';
import {
  type CommitResult,
  commit,
  finished,
  logRunFinished,
  runFields,
  touch,
  without,
} from './run-commit.ts';
import { withEvent } from './run-events.ts';
import { followUpEnding } from './run-follow-up.ts';
import { actionOf, type DeliveryState, FINAL_STATUSES, type RunRecord } from './run-record.ts';
import { driveStart, takeStartLease } from './start-run.ts';
import { timeOutRun } from './time-out.ts';

export interface CheckOptions {
  readonly signal?: AbortSignal;
  /** Also settle finished runs: log and deliver reports, follow operations until done. Sweeps only. */
  readonly settle: boolean;
  /** Compare-and-set retries (0 in sweeps: a conflict means another sweep handled the run). */
  readonly attempts: number;
}

const opts = (signal: AbortSignal | undefined) => (signal === undefined ? {} : { signal });

/**
 * Looks at one run once and moves it on: re-drives a stale start, checks a running operation
 * (Operation.Get), times out a run past its deadline (Operation.Cancel, then TIMED_OUT at once), and,
 * when settling, reports an ending, follows a cancelled operation until done and delivers the report.
 * Returns the record as it now stands.
 */
export async function checkRun(record: RunRecord, deps: CoreDeps, options: CheckOptions): Promise<RunRecord> {
  if (FINAL_STATUSES.has(record.status)) {
    if (!options.settle) return record;
    // An attempt whose report is done and whose operation is done: its retry is all that is due.
    if (retryPending(record) && record.reportedAt !== undefined && record.operationDone === true) {
      const retried = await startDueRetry(record, deps, options.signal);
      if (retried !== record) return retried;
    }
    return retryWhenDue(await settle(record, deps, options, false), deps, options);
  }
  let current = record;
  let endedHere = false;
  if (current.status === 'STARTING') current = await recoverStart(current, deps, options);
  else if (current.status === 'QUEUED') {
    // Waiting runs are the sweep's alone: a status call answers them as they are.
    if (!options.settle) return current;
    const result = await checkQueued(current, deps, options);
    current = result.record;
    endedHere = result.written && FINAL_STATUSES.has(current.status);
  } else if (current.status === 'RUNNING') {
    const result = await checkRunning(current, deps, options);
    current = result.record;
    // This pass wrote the ending, and with it the claim on its report: settle it now, not a tick later.
    endedHere = result.written && FINAL_STATUSES.has(current.status);
  }
  if (!options.settle || !FINAL_STATUSES.has(current.status)) return current;
  return retryWhenDue(await settle(current, deps, options, endedHere), deps, options);
}

/** After a settle pass: an attempt whose retry is due starts it (retry-start.ts). */
function retryWhenDue(record: RunRecord, deps: CoreDeps, options: CheckOptions): Promise<RunRecord> {
  return retryPending(record) ? startDueRetry(record, deps, options.signal) : Promise.resolve(record);
}

async function recoverStart(record: RunRecord, deps: CoreDeps, options: CheckOptions): Promise<RunRecord> {
  const lease = await takeStartLease(record, deps);
  if (lease === undefined) return record;
  deps.log.warn('re-driving a start that did not complete', runFields(lease));
  try {
    return (await driveStart(lease, deps, options.signal)).record;
  } catch (error) {
    deps.log.warn('start retry failed; it will be tried again', { ...runFields(lease), error });
    return (await deps.ledger.get(record.runId)) ?? lease;
  }
}

async function checkRunning(record: RunRecord, deps: CoreDeps, options: CheckOptions): Promise<CommitResult> {
  const operationId = record.operationId;
  if (operationId === undefined) return { record, written: false };
  const now = deps.now();
  const deadline = new Date(record.deadline);
  const settlesReport = options.settle;
  if (deadline.getTime() <= now.getTime()) {
    return timeOutRun(record, operationId, deps, { ...options, settlesReport });
  }

  // Every change below applies only while the run is still RUNNING (another writer may have ended it).
  const whileRunning = (change: (latest: RunRecord) => RunRecord) =>
    commit(
      deps,
      record,
      (latest) => (latest.status === 'RUNNING' ? change(latest) : undefined),
      options.attempts,
      { settlesReport },
    );
  const later = (checks: number) => nextCheckAt(now, checks, deadline, deps.settings).toISOString();

  let operation: Awaited<ReturnType<CoreDeps['operations']['get']>>;
  try {
    operation = await deps.operations.get(operationId, opts(options.signal));
  } catch (error) {
    const checks = record.checks + 1;
    if (!isNotFound(error)) {
      deps.log.warn('run check failed; will check again', { ...runFields(record), error });
      return whileRunning((latest) => touch(latest, now, { checks, nextCheckAt: later(checks) }));
    }
    const since = Date.parse(record.startedAt ?? record.createdAt);
    if (now.getTime() - since <= deps.settings.notFoundGraceSeconds * 1000) {
      // A fresh operation may not be visible on every replica yet (go-sdk skips early NOT_FOUNDs too).
      return whileRunning((latest) =>
        touch(latest, now, {
          checks,
          notFoundCount: (latest.notFoundCount ?? 0) + 1,
          nextCheckAt: later(checks),
        }),
      );
    }
    return whileRunning((latest) =>
      finished(latest, now, 'FAILED', {
        checks,
        operationDone: true,
        error: {
          code: 5,
          message: `operation ${operationId} is not found by Operation.Get ${deps.settings.notFoundGraceSeconds} s after the start`,
        },
      }),
    );
  }

  const outcome = outcomeOf(operation, actionOf(record));
  const checked = deps.now();
  return whileRunning((latest) => {
    const checks = latest.checks + 1;
    const base = without(latest, 'notFoundCount');
    if (!outcome.done) {
      return touch(base, checked, {
        checks,
        ...(outcome.earlyError === undefined ? {} : { error: outcome.earlyError }),
        nextCheckAt: nextCheckAt(checked, checks, deadline, deps.settings).toISOString(),
      });
    }
    return finished(without(base, 'error'), checked, outcome.status, { checks, ...outcomeFields(outcome) });
  });
}

/**
 * A finished run: report it if it is not yet (the "run finished" line, again when its writer died
 * before recording the report), follow the operation until done (re-sending Cancel for timed-out
 * runs), deliver the report to each destination. `claimed` when this pass wrote the ending: it holds
 * the report already, and has just read the operation.
 */
async function settle(
  record: RunRecord,
  deps: CoreDeps,
  options: CheckOptions,
  claimed: boolean,
): Promise<RunRecord> {
  // Not due: another writer holds its report (it ended it, or is delivering), or it waits for a retry.
  // This is what keeps a sweep that lost the race to end a run from reporting it a second time.
  const dueBy = deps.now().getTime() + deps.settings.checkDueSlackSeconds * 1000;
  if (!claimed && (record.nextCheckAt === undefined || Date.parse(record.nextCheckAt) > dueBy)) return record;
  let operationDone = record.operationDone === true || record.operationId === undefined;
  let followUpChecks = record.checks;
  if (!claimed && !operationDone && record.operationId !== undefined) {
    followUpChecks++;
    try {
      const operation = await deps.operations.get(record.operationId, opts(options.signal));
      operationDone = operation.done;
      if (!operationDone && record.cancelRequestedAt !== undefined) {
        await deps.operations.cancel(record.operationId, opts(options.signal));
      }
    } catch (error) {
      deps.log.warn('follow-up of a finished run failed; will retry', { ...runFields(record), error });
    }
  }

  const notifier = deps.notifier;
  const now = deps.now();
  const deliveries: Record<string, DeliveryState> = { ...(record.notifications ?? {}) };
  // An attempt that will be retried is not the run's outcome: its notifications wait for the last attempt.
  const destinations = isIntermediate(record) ? [] : (notifier?.destinations ?? []);
  const pending = destinations.filter((name) => {
    const state = deliveries[name];
    if (state?.delivered === true || (state?.attempts ?? 0) >= MAX_DELIVERY_ATTEMPTS) return false;
    return state?.nextAttemptAt === undefined || Date.parse(state.nextAttemptAt) <= now.getTime();
  });
  const unreported = record.reportedAt === undefined;
  let current = record;
  if (!claimed && (unreported || (notifier !== undefined && pending.length > 0))) {
    // Claim the report before logging or sending it, so an overlapping sweep does not report it too.
    const claim = await commit(
      deps,
      record,
      (latest) =>
        latest.version === record.version
          ? touch(latest, now, {
              nextCheckAt: reportClaimUntil(now),
            })
          : undefined,
      0,
    );
    if (!claim.written) return claim.record;
    current = claim.record;
    // Its writer died before recording the report: the line may be lost, so it is written again.
    if (unreported) logRunFinished(deps, current, true);
  }
  if (notifier !== undefined) {
    for (const name of pending) {
      const attempts = (deliveries[name]?.attempts ?? 0) + 1;
      try {
        await notifier.deliver(name, current, options.signal);
        deliveries[name] = { delivered: true, attempts, deliveredAt: deps.now().toISOString() };
        deps.log.info('run report delivered', { ...runFields(current), destination: name, attempts });
      } catch (error) {
        const lastError = isRunnerError(error) ? error.message : String(error);
        const abandoned = attempts >= MAX_DELIVERY_ATTEMPTS;
        deliveries[name] = {
          delivered: false,
          attempts,
          lastError: lastError.slice(0, 500),
          ...(abandoned ? {} : { nextAttemptAt: nextDeliveryAt(deps.now(), attempts).toISOString() }),
        };
        deps.log[abandoned ? 'error' : 'warn'](
          abandoned
            ? 'run report abandoned after repeated failures'
            : 'run report delivery failed; will retry',
          { ...runFields(current), destination: name, attempts, error },
        );
      }
    }
  }

  const follow = await followUpEnding(current, operationDone, deps, options.signal);
  const after = deps.now();
  const waiting = destinations
    .map((name) => deliveries[name])
    .filter((state) => state === undefined || (!state.delivered && state.attempts < MAX_DELIVERY_ATTEMPTS))
    .map((state) => (state?.nextAttemptAt === undefined ? after.getTime() : Date.parse(state.nextAttemptAt)));
  if (!operationDone) {
    waiting.push(nextCheckAt(after, followUpChecks, new Date(8.64e15), deps.settings).getTime());
  }
  if (retryPending(current)) waiting.push(Date.parse(current.retryAt ?? ''));
  if (follow.againAt !== undefined) waiting.push(follow.againAt);
  const notifications = Object.keys(deliveries).length > 0 ? { notifications: deliveries } : {};
  return (
    await commit(
      deps,
      current,
      (latest) => {
        if (latest.version !== current.version) return undefined;
        // The timeline says what this pass reported: the "run finished" line (once), each destination.
        const reported = [
          ...(latest.reportedAt === undefined ? ['log'] : []),
          ...pending.filter((name) => deliveries[name]?.delivered === true),
        ];
        const timed =
          reported.length === 0 ? latest : withEvent(latest, 'reported', after, reported.join(','));
        const next = touch(timed, after, {
          ...notifications,
          reportedAt: latest.reportedAt ?? after.toISOString(),
          operationDone,
          checks: followUpChecks,
          ...(follow.downstreamStarted === true ? { downstreamStartedAt: after.toISOString() } : {}),
        });
        return waiting.length === 0
          ? without(next, 'nextCheckAt')
          : { ...next, nextCheckAt: new Date(Math.min(...waiting)).toISOString() };
      },
      0,
    )
  ).record;
}
