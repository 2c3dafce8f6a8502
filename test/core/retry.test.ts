// Retries of failed runs (issue #13 item 1) in the core, with the in-memory ledger and a fake clock:
// when the next attempt starts, what it is linked to, what is reported for each attempt, and what holds
// under two overlapping sweeps, a sweep killed half way, a cancel and a rejected start.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import { attemptDedupeKey, retryDelaySeconds } from '../../shared/core/retry-plan.ts';
import { executeKeyFor, runIdFor } from '../../shared/core/run-identity.ts';
import type { RetryPolicy, RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { isRunnerError, RunnerError } from '../../shared/errors.ts';
import { ApiFailure, harness, REQUEST, RecordingNotifier } from './core-fixtures.ts';

const RETRY: RetryPolicy = { attempts: 3, delaySeconds: 10, backoff: 2, on: ['FAILED'] };
const withRetry = (retry: Partial<RetryPolicy> = {}, extra: Partial<RunRequest> = {}): RunRequest => ({
  ...REQUEST,
  ...extra,
  retry: { ...RETRY, ...retry },
});

type H = ReturnType<typeof harness>;

async function start(h: H, request: RunRequest, key = 'k'): Promise<RunRecord> {
  return (await startRun({ request, trigger: 'http', dedupe: { kind: 'key', key } }, h.deps)).record;
}

const get = async (h: H, runId: string): Promise<RunRecord> => {
  const record = await h.ledger.get(runId);
  assert.ok(record, `run ${runId} is in the ledger`);
  return record;
};

/** Ends the operation of `runId` and sweeps once it is due (a minute later). */
async function endAttempt(h: H, runId: string, outcome: 'OK' | 'ERROR' | 'ABORTED'): Promise<RunRecord> {
  const record = await get(h, runId);
  h.api.finish(record.operationId ?? '', outcome);
  h.clock.ms = Math.max(h.clock.ms, Date.parse(record.nextCheckAt ?? ''));
  await sweep(h.deps);
  return get(h, runId);
}

describe('retries', () => {
  it('retry.delaySeconds × backoff^(n-1): 10 s, 20 s, 40 s…, capped at 7 days', () => {
    assert.deepEqual(
      [1, 2, 3].map((n) => retryDelaySeconds(RETRY, n)),
      [10, 20, 40],
    );
    assert.equal(retryDelaySeconds({ ...RETRY, delaySeconds: 86400, backoff: 10 }, 9), 604800);
  });

  it('a failed attempt starts again after the delay as attempt 2, with its own keys, linked both ways', async () => {
    const h = harness();
    const first = await start(h, withRetry());
    assert.equal(first.attempt, 1);
    const ended = await endAttempt(h, first.runId, 'ERROR');
    assert.equal(ended.status, 'FAILED');
    assert.equal(ended.retryAt, new Date(Date.parse(ended.finishedAt ?? '') + 10_000).toISOString());
    assert.equal(ended.nextCheckAt, ended.retryAt, 'due again exactly when the retry is');

    h.clock.advance(9);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 1, 'not before the delay');
    h.clock.advance(1);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 2);

    const secondId = runIdFor(attemptDedupeKey('key:k', 2));
    const earlier = await get(h, first.runId);
    assert.equal(earlier.retriedBy, secondId);
    const second = await get(h, secondId);
    assert.equal(second.status, 'RUNNING');
    assert.equal(second.attempt, 2);
    assert.deepEqual(second.attempts, [first.runId]);
    assert.equal(second.dedupeKey, 'retry:2:key:k');
    assert.equal(
      h.api.calls.filter((c) => c.rpc === 'execute')[1]?.idempotencyKey,
      executeKeyFor('retry:2:key:k'),
    );
    assert.notEqual(executeKeyFor('retry:2:key:k'), executeKeyFor('key:k'));
    assert.deepEqual(second.request, first.request);
    assert.equal(second.trigger, 'http');
  });

  it('the deadline is per attempt, and a third attempt waits twice as long and is linked to both', async () => {
    const h = harness();
    const first = await start(h, withRetry({}, { timeoutSeconds: 600 }));
    await endAttempt(h, first.runId, 'ERROR');
    h.clock.advance(10);
    await sweep(h.deps);
    const second = await get(h, runIdFor('retry:2:key:k'));
    assert.equal(Date.parse(second.deadline) - Date.parse(second.createdAt), 600_000);
    const secondEnded = await endAttempt(h, second.runId, 'ERROR');
    assert.equal(Date.parse(secondEnded.retryAt ?? '') - Date.parse(secondEnded.finishedAt ?? ''), 20_000);
    h.clock.advance(20);
    await sweep(h.deps);
    const third = await get(h, runIdFor('retry:3:key:k'));
    assert.equal(third.attempt, 3);
    assert.deepEqual(third.attempts, [first.runId, second.runId]);
    const thirdEnded = await endAttempt(h, third.runId, 'ERROR');
    assert.equal(thirdEnded.retryAt, undefined, 'no attempts left');
    assert.equal(h.api.count('execute'), 3);
  });

  it('reports only the outcome: a warning per failed attempt, "run finished" and notifications once, for the last', async () => {
    const notifier = new RecordingNotifier(['webhook']);
    const h = harness({ notifier });
    const first = await start(h, withRetry());
    await endAttempt(h, first.runId, 'ERROR');
    h.clock.advance(10);
    await sweep(h.deps);
    const second = runIdFor('retry:2:key:k');
    await endAttempt(h, second, 'ERROR');
    h.clock.advance(20);
    await sweep(h.deps);
    const third = runIdFor('retry:3:key:k');
    await endAttempt(h, third, 'OK');
    for (let i = 0; i < 3; i++) {
      h.clock.advance(130);
      await sweep(h.deps);
    }
    const warnings = h.logged('run attempt failed; retrying');
    assert.deepEqual(
      warnings.map((line) => [line.runId, line.attempt, line.maxAttempts]),
      [
        [first.runId, 1, 3],
        [second, 2, 3],
      ],
    );
    const finished = h.logged('run finished');
    assert.equal(finished.length, 1);
    assert.equal(finished[0]?.runId, third);
    assert.deepEqual(notifier.delivered, [{ destination: 'webhook', runId: third, status: 'SUCCEEDED' }]);
    for (const runId of [first.runId, second, third]) {
      assert.equal((await get(h, runId)).nextCheckAt, undefined, `${runId} left the open index`);
    }
  });

  it('TIMED_OUT is retried only when retry.on has it, and only once the timed-out operation is done', async () => {
    const h = harness();
    const first = await start(h, withRetry({ on: ['TIMED_OUT'], delaySeconds: 5 }, { timeoutSeconds: 60 }));
    h.clock.advance(61);
    await sweep(h.deps);
    const timedOut = await get(h, first.runId);
    assert.equal(timedOut.status, 'TIMED_OUT');
    assert.ok(timedOut.retryAt);
    h.clock.advance(10);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 1, 'the cancelled operation is not done yet');
    h.api.finish(first.operationId ?? '', 'ABORTED');
    h.clock.advance(60);
    await sweep(h.deps);
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 2);

    const h2 = harness();
    const failing = await start(h2, withRetry({ on: ['TIMED_OUT'] }));
    const ended = await endAttempt(h2, failing.runId, 'ERROR');
    assert.equal(ended.retryAt, undefined, 'FAILED is not in retry.on');
    assert.equal(h2.logged('run finished').length, 1);
  });

  it('a start rejected by the API with a 4xx is not retried', async () => {
    const h = harness();
    h.api.failures.execute = [() => new ApiFailure(400, 3, 'notebook path is wrong')];
    const result = await startRun(
      { request: withRetry(), trigger: 'http', dedupe: { kind: 'key', key: 'k' } },
      h.deps,
    );
    assert.equal(result.outcome, 'rejected');
    assert.equal(result.record.retryAt, undefined);
    h.clock.advance(3600);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 1);
    assert.equal(h.logged('run finished').length, 1);
  });

  it('of two overlapping sweeps at the retry time, exactly one starts the retry: one record, one Execute', async () => {
    for (let round = 0; round < 20; round++) {
      const h = harness();
      const first = await start(h, withRetry());
      await endAttempt(h, first.runId, 'ERROR');
      h.clock.advance(10);
      await Promise.all([sweep(h.deps), sweep(h.deps)]);
      assert.equal(h.api.count('execute'), 2, `round ${round}`);
      assert.equal(h.logged('retry started').length, 1);
      const open = await h.ledger.listOpen();
      assert.equal(open.filter((r) => r.attempt === 2).length, 1);
    }
  });

  it('a sweep killed after claiming the retry and before creating it: the next sweep creates and starts it once', async () => {
    const h = harness({ settings: { startRecoverySeconds: 30 } });
    const first = await start(h, withRetry());
    await endAttempt(h, first.runId, 'ERROR');
    h.clock.advance(10);
    const realCreate = h.ledger.create.bind(h.ledger);
    h.ledger.create = async () => {
      throw new RunnerError('LEDGER_ERROR', 'the sweep died here');
    };
    await sweep(h.deps);
    h.ledger.create = realCreate;
    assert.equal((await get(h, first.runId)).retriedBy, runIdFor('retry:2:key:k'));
    assert.equal(h.api.count('execute'), 1);
    h.clock.advance(31);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 2);
    assert.equal((await get(h, runIdFor('retry:2:key:k'))).status, 'RUNNING');
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 2, 'started once');
  });

  it('a sweep killed mid-Execute of the retry: re-driven after its lease with the same key, one operation', async () => {
    const h = harness({ settings: { startRecoverySeconds: 30 } });
    const first = await start(h, withRetry());
    await endAttempt(h, first.runId, 'ERROR');
    h.clock.advance(10);
    // The sweep "dies" once Execute of attempt 2 was sent: none of its later writes of that run land.
    const secondId = runIdFor('retry:2:key:k');
    const realUpdate = h.ledger.update.bind(h.ledger);
    h.ledger.update = async (record) => {
      if (record.runId === secondId && h.api.count('execute') >= 2)
        throw new RunnerError('LEDGER_ERROR', 'killed');
      return realUpdate(record);
    };
    await sweep(h.deps);
    h.ledger.update = realUpdate;
    const claim = await get(h, runIdFor('retry:2:key:k'));
    assert.equal(claim.status, 'STARTING');
    assert.ok(claim.startSentAt, 'the start was marked as sent before Execute');
    h.clock.advance(31);
    await sweep(h.deps);
    const executes = h.api.calls.filter((c) => c.rpc === 'execute');
    assert.equal(executes.length, 3);
    assert.equal(executes[1]?.idempotencyKey, executes[2]?.idempotencyKey);
    assert.equal(h.api.operations.size, 2, 'the first attempt and one retry operation');
    assert.equal((await get(h, claim.runId)).status, 'RUNNING');
  });

  it('a cancel while the retry waits stops it: the failed attempt is reported as the outcome, once', async () => {
    const notifier = new RecordingNotifier(['webhook']);
    const h = harness({ notifier });
    const first = await start(h, withRetry());
    await endAttempt(h, first.runId, 'ERROR');
    assert.equal(h.logged('run finished').length, 0);
    const answered = await cancelRun({ runId: first.runId }, h.deps);
    assert.equal(answered.status, 'FAILED');
    assert.equal(answered.retryAt, undefined);
    assert.equal(answered.cancelReason, 'user');
    assert.equal(h.logged('run finished').length, 1);
    h.clock.advance(600);
    await sweep(h.deps);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 1, 'no more attempts');
    assert.deepEqual(notifier.delivered, [{ destination: 'webhook', runId: first.runId, status: 'FAILED' }]);
    await assert.rejects(
      cancelRun({ runId: first.runId }, h.deps),
      (error) => isRunnerError(error) && error.code === 'RUN_ALREADY_FINISHED',
    );
  });

  it('a cancel naming an earlier attempt cancels the running one, and no attempt follows it', async () => {
    const h = harness();
    const first = await start(h, withRetry());
    await endAttempt(h, first.runId, 'ERROR');
    h.clock.advance(10);
    await sweep(h.deps);
    const second = await get(h, runIdFor('retry:2:key:k'));
    const answered = await cancelRun({ runId: first.runId }, h.deps);
    assert.equal(answered.runId, second.runId);
    assert.equal(h.api.calls.find((c) => c.rpc === 'cancel')?.id, second.operationId);
    // The operation fails rather than aborts (the cancel came too late): still no third attempt.
    const ended = await endAttempt(h, second.runId, 'ERROR');
    assert.equal(ended.retryAt, undefined);
    h.clock.advance(600);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 2);
  });

  it('a cancel racing the sweep between its claim and the create: the attempt is created cancelled, never started', async () => {
    const h = harness({ settings: { startRecoverySeconds: 30 } });
    const first = await start(h, withRetry());
    await endAttempt(h, first.runId, 'ERROR');
    h.clock.advance(10);
    const realCreate = h.ledger.create.bind(h.ledger);
    let cancelled: RunRecord | undefined;
    h.ledger.create = async (record) => {
      // The user's cancel lands right after the sweep claimed the retry.
      h.ledger.create = realCreate;
      cancelled = await cancelRun({ runId: first.runId }, h.deps);
      return realCreate(record);
    };
    await sweep(h.deps);
    assert.equal(cancelled?.status, 'CANCELLED');
    assert.equal(cancelled?.attempt, 2);
    assert.equal(h.api.count('execute'), 1, 'the retry never reached the API');
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 1);
  });

  it('keeps the "skip" slot across the delay, for the next attempt', async () => {
    const h = harness();
    const first = await start(h, withRetry({}, { concurrency: 'skip' }));
    await endAttempt(h, first.runId, 'ERROR');
    const scope = first.concurrencyScope ?? '';
    assert.equal((await h.ledger.getSlot(scope))?.holder, first.runId);
    await assert.rejects(
      start(h, { ...REQUEST, concurrency: 'skip' }, 'other'),
      (error) =>
        isRunnerError(error) &&
        error.code === 'RUN_ALREADY_RUNNING' &&
        /waiting to retry/.test(error.message),
    );
    h.clock.advance(10);
    await sweep(h.deps);
    const second = runIdFor('retry:2:key:k');
    assert.equal((await h.ledger.getSlot(scope))?.holder, second);
    await endAttempt(h, second, 'OK');
    assert.equal(await h.ledger.getSlot(scope), undefined, 'freed by the outcome');
  });
});
