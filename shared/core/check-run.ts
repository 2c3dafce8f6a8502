import { isRunnerError } from '../errors.ts';
import { MAX_DELIVERY_ATTEMPTS, nextCheckAt, nextDeliveryAt } from './check-schedule.ts';
import { outcomeFields, outcomeOf } from './operation-outcome.ts';
import type { CoreDeps } from './ports.ts';
import { commit, finished, runFields, touch, without } from './run-commit.ts';
import { type DeliveryState, FINAL_STATUSES, type RunRecord } from './run-record.ts';
import { driveStart, takeStartLease } from './start-run.ts';

export interface CheckOptions {
  readonly signal?: AbortSignal;
  /** Also settle finished runs: deliver notifications, follow operations until done. Sweeps only. */
  readonly settle: boolean;
  /** Compare-and-set retries (0 in sweeps: a conflict means another sweep handled the run). */
  readonly attempts: number;
}

const opts = (signal: AbortSignal | undefined) => (signal === undefined ? {} : { signal });

function isNotFound(error: unknown): boolean {
  const e = error as { rpcCode?: unknown; httpStatus?: unknown };
  return isRunnerError(error) && (e.rpcCode === 5 || (e.rpcCode === undefined && e.httpStatus === 404));
}

/**
 * Looks at one run once and moves it on: re-drives a stale start, checks a running operation
 * (Operation.Get), times out a run past its deadline (Operation.Cancel, then TIMED_OUT at once), and,
 * when settling, follows a cancelled operation until done and delivers the final report.
 * Returns the record as it now stands.
 */
export async function checkRun(record: RunRecord, deps: CoreDeps, options: CheckOptions): Promise<RunRecord> {
  let current = record;
  if (current.status === 'STARTING') current = await recoverStart(current, deps, options);
  else if (current.status === 'RUNNING') current = await checkRunning(current, deps, options);
  else if (FINAL_STATUSES.has(current.status) && options.settle) return settle(current, deps, options);
  // A run that has just ended is settled in the same pass: its report goes out without waiting a tick.
  if (
    options.settle &&
    current !== record &&
    FINAL_STATUSES.has(current.status) &&
    current.nextCheckAt !== undefined
  ) {
    return settle(current, deps, options, false);
  }
  return current;
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

async function checkRunning(record: RunRecord, deps: CoreDeps, options: CheckOptions): Promise<RunRecord> {
  const operationId = record.operationId;
  if (operationId === undefined) return record;
  const now = deps.now();
  const deadline = new Date(record.deadline);
  if (deadline.getTime() <= now.getTime()) return timeOut(record, operationId, deps, options);

  // Every change below applies only while the run is still RUNNING (another writer may have ended it).
  const whileRunning = (change: (latest: RunRecord) => RunRecord) =>
    commit(
      deps,
      record,
      (latest) => (latest.status === 'RUNNING' ? change(latest) : undefined),
      options.attempts,
    ).then((result) => result.record);
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

  const outcome = outcomeOf(operation);
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

/** Past its deadline: ask Yandex to cancel and record TIMED_OUT at once; later sweeps follow up. */
async function timeOut(
  record: RunRecord,
  operationId: string,
  deps: CoreDeps,
  options: CheckOptions,
): Promise<RunRecord> {
  let done = false;
  try {
    const operation = await deps.operations.cancel(operationId, opts(options.signal));
    done = operation.done;
  } catch (error) {
    // Cancel is best effort; the run is still timed out and later sweeps re-send it.
    deps.log.warn('cancel of a timed-out run failed; will retry', { ...runFields(record), error });
  }
  const now = deps.now();
  return (
    await commit(
      deps,
      record,
      (latest) =>
        latest.status === 'RUNNING'
          ? finished(latest, now, 'TIMED_OUT', {
              cancelRequestedAt: now.toISOString(),
              cancelReason: 'deadline',
              operationDone: done,
              error: {
                code: 'DEADLINE_EXCEEDED',
                message: `the run passed its deadline ${latest.deadline} and was cancelled`,
              },
            })
          : undefined,
      options.attempts,
    )
  ).record;
}

/** Finished runs: follow the operation until done (re-sending Cancel for timed-out runs), deliver reports. */
async function settle(
  record: RunRecord,
  deps: CoreDeps,
  options: CheckOptions,
  followUp = true,
): Promise<RunRecord> {
  // Not due: another sweep has claimed it (to deliver its report) or it waits for a retry. This is what
  // keeps a sweep that lost the race to end a run from settling (and reporting) it a second time.
  const dueBy = deps.now().getTime() + deps.settings.checkDueSlackSeconds * 1000;
  if (record.nextCheckAt === undefined || Date.parse(record.nextCheckAt) > dueBy) return record;
  let operationDone = record.operationDone === true || record.operationId === undefined;
  let followUpChecks = record.checks;
  // followUp is false right after this pass ended the run: the operation was just read or cancelled.
  if (followUp && !operationDone && record.operationId !== undefined) {
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
  const pending = (notifier?.destinations ?? []).filter((name) => {
    const state = deliveries[name];
    if (state?.delivered === true || (state?.attempts ?? 0) >= MAX_DELIVERY_ATTEMPTS) return false;
    return state?.nextAttemptAt === undefined || Date.parse(state.nextAttemptAt) <= now.getTime();
  });
  let current = record;
  if (notifier !== undefined && pending.length > 0) {
    // Claim the record before sending, so an overlapping sweep does not deliver the same report too.
    const claim = await commit(
      deps,
      record,
      (latest) =>
        latest.version === record.version
          ? touch(latest, now, { nextCheckAt: new Date(now.getTime() + 120_000).toISOString() })
          : undefined,
      0,
    );
    if (!claim.written) return claim.record;
    current = claim.record;
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

  const after = deps.now();
  const waiting = (notifier?.destinations ?? [])
    .map((name) => deliveries[name])
    .filter((state) => state === undefined || (!state.delivered && state.attempts < MAX_DELIVERY_ATTEMPTS))
    .map((state) => (state?.nextAttemptAt === undefined ? after.getTime() : Date.parse(state.nextAttemptAt)));
  if (!operationDone) {
    waiting.push(nextCheckAt(after, followUpChecks, new Date(8.64e15), deps.settings).getTime());
  }
  const notifications = Object.keys(deliveries).length > 0 ? { notifications: deliveries } : {};
  return (
    await commit(
      deps,
      current,
      (latest) => {
        if (latest.version !== current.version) return undefined;
        const next = touch(latest, after, {
          ...notifications,
          operationDone,
          checks: followUpChecks,
        });
        return waiting.length === 0
          ? without(next, 'nextCheckAt')
          : { ...next, nextCheckAt: new Date(Math.min(...waiting)).toISOString() };
      },
      0,
    )
  ).record;
}
