import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import { getRun } from '../../shared/core/get-run.ts';
import type { RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { tick } from '../../shared/core/tick.ts';
import { isRunnerError } from '../../shared/errors.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { ApiFailure, harness, REQUEST } from './core-fixtures.ts';

describe('getRun', () => {
  it('answers a running run refreshed from the API, by runId or operationId', async () => {
    const h = harness();
    const run = (
      await startRun({ request: REQUEST, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps)
    ).record;
    h.api.finish(run.operationId ?? '', 'OK');
    const byId = await getRun({ runId: run.runId }, h.deps);
    assert.equal(byId.status, 'SUCCEEDED');
    const byOp = await getRun({ operationId: run.operationId ?? '' }, h.deps);
    assert.equal(byOp.runId, run.runId);
  });

  it('is RUN_NOT_FOUND for an unknown run or an operation it did not start', async () => {
    const h = harness();
    for (const lookup of [{ runId: 'nope' }, { operationId: 'foreign-op' }]) {
      await assert.rejects(
        getRun(lookup, h.deps),
        (e: unknown) => isRunnerError(e) && e.code === 'RUN_NOT_FOUND',
      );
    }
    assert.equal(h.api.calls.length, 0);
  });

  it('answers the stored record when the refresh fails', async () => {
    const h = harness();
    const run = (
      await startRun({ request: REQUEST, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps)
    ).record;
    h.api.failures.get = [() => new ApiFailure(503, 14, 'down'), () => new ApiFailure(503, 14, 'down')];
    assert.equal((await getRun({ runId: run.runId }, h.deps)).status, 'RUNNING');
  });
});

describe('cancelRun', () => {
  it('sends Operation.Cancel and the run becomes CANCELLED once the operation is done', async () => {
    const h = harness();
    const run = (
      await startRun({ request: REQUEST, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps)
    ).record;
    const answered = await cancelRun({ runId: run.runId }, h.deps);
    assert.equal(answered.status, 'RUNNING');
    assert.equal(answered.cancelReason, 'user');
    assert.equal(h.api.count('cancel'), 1);
    h.api.finish(run.operationId ?? '', 'ABORTED');
    await sweep(h.deps);
    const after = await h.ledger.get(run.runId);
    assert.equal(after?.status, 'CANCELLED');
    assert.equal(h.logged('run finished').length, 1);
  });

  it('changes nothing on a finished run, says so with the record, and never calls the API for it', async () => {
    const h = harness();
    const run = (
      await startRun({ request: REQUEST, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps)
    ).record;
    h.api.finish(run.operationId ?? '', 'OK');
    await sweep(h.deps);
    const before = await h.ledger.get(run.runId);
    await assert.rejects(cancelRun({ runId: run.runId }, h.deps), (e: unknown) => {
      assert.ok(isRunnerError(e) && e.code === 'RUN_ALREADY_FINISHED');
      assert.equal((e.details?.run as { status?: string } | undefined)?.status, 'SUCCEEDED');
      return true;
    });
    assert.deepEqual(await h.ledger.get(run.runId), before);
    assert.equal(h.api.count('cancel'), 0);
  });

  it('passes on an API refusal of the cancel', async () => {
    const h = harness();
    const run = (
      await startRun({ request: REQUEST, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps)
    ).record;
    h.api.failures.cancel = [() => new ApiFailure(403, 7, 'denied')];
    await assert.rejects(
      cancelRun({ runId: run.runId }, h.deps),
      (e: unknown) => isRunnerError(e) && e.code === 'API_ERROR',
    );
  });

  it('cancels a claim that never sent its start (an activation still pending) at once, without an API call', async () => {
    const h = harness({ settings: { startRecoverySeconds: 30 } });
    h.api.failures.activate = [() => new ApiFailure(503, 14, 'down')];
    const request = { ...REQUEST, dockerId: 'img1' };
    await assert.rejects(startRun({ request, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps));
    const [record] = await h.ledger.listOpen();
    assert.equal(record?.startSentAt, undefined, 'Execute was never sent');
    const calls = h.api.calls.length;
    const answered = await cancelRun({ runId: record?.runId ?? '' }, h.deps);
    assert.equal(answered.status, 'CANCELLED');
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 0, 'nothing was ever started');
    assert.equal(h.api.calls.length, calls);
  });

  it('a cancel of a start whose outcome is unknown re-drives it with the same key and cancels the operation it finds', async () => {
    const h = harness({ settings: { startRecoverySeconds: 30 } });
    // Execute takes effect, but the answer is lost (a timeout): the ledger never learns the operation.
    const execute = h.api.datasphere.execute;
    h.api.datasphere.execute = async (...args) => {
      await execute(...args);
      throw new ApiFailure(504, 4, 'timed out');
    };
    await assert.rejects(
      startRun({ request: REQUEST, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps),
    );
    h.api.datasphere.execute = execute;
    const [claim] = await h.ledger.listOpen();
    assert.ok(claim?.startSentAt);
    const answered = await cancelRun({ runId: claim.runId }, h.deps);
    assert.equal(answered.status, 'STARTING', 'not ended blind: an operation may exist');
    assert.equal(answered.cancelRequestedAt !== undefined, true);
    await sweep(h.deps);
    const [operation] = h.api.operations.values();
    assert.equal(h.api.count('execute'), 2);
    assert.equal(
      new Set(h.api.calls.filter((c) => c.rpc === 'execute').map((c) => c.idempotencyKey)).size,
      1,
    );
    assert.equal(h.api.calls.filter((c) => c.rpc === 'cancel' && c.id === operation?.id).length, 1);
    let record = await h.ledger.get(claim.runId);
    assert.equal(record?.status, 'RUNNING');
    assert.equal(record?.operationId, operation?.id);
    h.api.finish(operation?.id ?? '', 'ABORTED');
    h.clock.advance(60);
    await sweep(h.deps);
    record = await h.ledger.get(claim.runId);
    assert.equal(record?.status, 'CANCELLED');
    assert.equal(record?.operationId, operation?.id);
    assert.equal(h.logged('run finished').length, 1);
  });
});

describe('tick', () => {
  const job = (
    name: string,
    schedule: string,
    concurrency: 'skip' | 'allow' = 'skip',
  ): JobDefinition<RunRequest> => ({
    name,
    schedule,
    concurrency,
    run: { ...REQUEST, notebookId: `${name}.ipynb` },
  });

  it('starts each (job, minute) slot at most once under duplicated, concurrent and late ticks', async () => {
    const h = harness();
    h.clock.ms = Date.parse('2026-06-01T03:00:00.412Z');
    const jobs = [job('nightly', '0 3 ? * * *', 'allow')];
    await Promise.all([tick(jobs, h.clock.now(), h.deps), tick(jobs, h.clock.now(), h.deps)]);
    await tick(jobs, new Date(Date.parse('2026-06-01T03:07:00Z')), h.deps);
    const results = await tick(jobs, new Date(Date.parse('2026-06-01T03:15:00Z')), h.deps);
    assert.equal(h.api.count('execute'), 1);
    assert.deepEqual(
      results[0] && {
        result: results[0].result,
        reason: 'reason' in results[0] ? results[0].reason : undefined,
      },
      {
        result: 'skipped',
        reason: 'already-started',
      },
    );
    const [record] = await h.ledger.listOpen();
    assert.deepEqual(record?.job, { name: 'nightly', slot: '2026-06-01T03:00:00.000Z' });
    assert.equal(record?.trigger, 'schedule');
  });

  it('runs a slot missed by at most the catch-up window, and reports an older one as missed', async () => {
    const h = harness({ settings: { scheduleCatchUpMinutes: 15 } });
    const jobs = [job('nightly', '0 3 ? * * *')];
    const late = await tick(jobs, new Date('2026-06-01T03:15:30Z'), h.deps);
    assert.equal(late[0]?.result, 'started');
    const h2 = harness({ settings: { scheduleCatchUpMinutes: 15 } });
    // The first tick ever seen for the job only sets its watermark (the day before's slot).
    await tick(jobs, new Date('2026-05-31T12:00:00Z'), h2.deps);
    const tooLate = await tick(jobs, new Date('2026-06-01T03:16:00Z'), h2.deps);
    assert.equal(tooLate[0]?.result, 'skipped');
    assert.equal(h2.api.count('execute'), 0);
    const missed = h2.logged('scheduled slot missed');
    assert.equal(missed.length, 1);
    assert.equal(missed[0]?.job, 'nightly');
    assert.equal(missed[0]?.slot, '2026-06-01T03:00:00.000Z');
  });

  it('with concurrency skip, does not start a new slot while the previous run is running', async () => {
    const h = harness();
    const jobs = [job('every5', '*/5 * ? * * *')];
    await tick(jobs, new Date('2026-06-01T10:00:00Z'), h.deps);
    const second = await tick(jobs, new Date('2026-06-01T10:05:00Z'), h.deps);
    assert.equal(second[0]?.result, 'skipped');
    assert.equal(
      'reason' in (second[0] ?? {}) ? (second[0] as { reason: string }).reason : '',
      'still-running',
    );
    assert.equal(h.api.count('execute'), 1);
    assert.equal(h.logged('scheduled slot skipped: the previous run is still running').length, 1);
    // Once it has finished, the next slot starts.
    const op = [...h.api.operations.keys()][0] ?? '';
    h.api.finish(op, 'OK');
    h.clock.ms = Date.parse('2026-06-01T10:06:00Z');
    await sweep(h.deps);
    const third = await tick(jobs, new Date('2026-06-01T10:10:00Z'), h.deps);
    assert.equal(third[0]?.result, 'started');
  });

  it('starts one job even when another fails transiently, then throws so the tick is retried', async () => {
    const h = harness();
    h.api.failures.execute = [() => new ApiFailure(503, 14, 'down')];
    const jobs = [job('a', '* * ? * * *', 'allow'), job('b', '* * ? * * *', 'allow')];
    await assert.rejects(tick(jobs, new Date('2026-06-01T10:00:00Z'), h.deps));
    assert.equal(h.api.count('execute'), 2);
    const retry = await tick(jobs, new Date('2026-06-01T10:00:10Z'), h.deps);
    assert.deepEqual(
      retry.map((r) => r.result),
      ['started', 'skipped'],
    );
  });
});
