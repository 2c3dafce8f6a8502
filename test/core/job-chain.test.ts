// Job chains (issue #13 item 3) in the core, with the in-memory ledger and a fake clock: the sweep that
// settles a job's run starts the jobs chained after it, once per upstream run, with the upstream's facts
// as input variables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import { chainDedupeKey, chainedRequest } from '../../shared/core/job-chain.ts';
import { runIdFor } from '../../shared/core/run-identity.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { tick } from '../../shared/core/tick.ts';
import { RunnerError } from '../../shared/errors.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { harness, REQUEST } from './core-fixtures.ts';

type H = ReturnType<typeof harness>;
type Job = JobDefinition<RunRequest>;

const TRAIN: Job = { name: 'train', schedule: '0 3 ? * * *', concurrency: 'skip', run: REQUEST };
const after = (
  name: string,
  upstream: string,
  on: 'success' | 'failure' | 'always',
  run: RunRequest = REQUEST,
): Job => ({
  name,
  after: { job: upstream, on },
  concurrency: 'skip',
  run: { ...run, notebookId: `${name}.ipynb`, inputVariables: { MODE: name } },
});

/** A harness whose sweep knows the chained jobs, the clock at 03:00 of the slot. */
function chainHarness(jobs: readonly Job[]): H & { jobs: readonly Job[] } {
  const h = harness();
  h.clock.ms = Date.parse('2026-06-01T03:00:05Z');
  Object.assign(h.deps, { jobs: jobs.filter((job) => job.after !== undefined) });
  return Object.assign(h, { jobs });
}

async function runTrain(
  h: H & { jobs: readonly Job[] },
  outcome: 'OK' | 'ERROR' | 'ABORTED',
): Promise<RunRecord> {
  const [result] = await tick(h.jobs, h.clock.now(), h.deps);
  const runId = result && 'runId' in result ? (result.runId ?? '') : '';
  const record = await h.ledger.get(runId);
  assert.ok(record);
  h.api.finish(record.operationId ?? '', outcome);
  h.clock.advance(60);
  await sweep(h.deps);
  const ended = await h.ledger.get(runId);
  assert.ok(ended);
  return ended;
}

const downstreamOf = (job: string, upstream: RunRecord) => runIdFor(chainDedupeKey(job, upstream.runId));

describe('job chains', () => {
  it('the sweep that records the upstream ending starts the downstream job, with the upstream as input variables', async () => {
    const h = chainHarness([TRAIN, after('report', 'train', 'success')]);
    const train = await runTrain(h, 'OK');
    assert.equal(train.status, 'SUCCEEDED');
    assert.ok(train.downstreamStartedAt);
    const report = await h.ledger.get(downstreamOf('report', train));
    assert.equal(report?.status, 'RUNNING');
    assert.equal(report?.trigger, 'chain');
    assert.deepEqual(report?.job, { name: 'report', slot: train.finishedAt });
    assert.deepEqual(report?.upstream, { runId: train.runId, status: 'SUCCEEDED', job: 'train' });
    const execute = h.api.calls.filter((c) => c.rpc === 'execute')[1]?.body as {
      notebookId: string;
      inputVariables: Record<string, unknown>;
    };
    assert.equal(execute.notebookId, 'report.ipynb');
    assert.deepEqual(execute.inputVariables, {
      MODE: 'report',
      UPSTREAM_RUN_ID: train.runId,
      UPSTREAM_STATUS: 'SUCCEEDED',
      UPSTREAM_JOB: 'train',
    });
    assert.equal(h.logged('chained run started').length, 1);
  });

  it('starts it once per upstream run: later sweeps, overlapping sweeps and settle passes start nothing more', async () => {
    for (let round = 0; round < 10; round++) {
      const h = chainHarness([TRAIN, after('report', 'train', 'always')]);
      const [result] = await tick(h.jobs, h.clock.now(), h.deps);
      const runId = result && 'runId' in result ? (result.runId ?? '') : '';
      h.api.finish((await h.ledger.get(runId))?.operationId ?? '', 'OK');
      h.clock.advance(60);
      await Promise.all([sweep(h.deps), sweep(h.deps)]);
      for (let i = 0; i < 3; i++) {
        h.clock.advance(130);
        await sweep(h.deps);
      }
      assert.equal(h.api.count('execute'), 2, `round ${round}`);
    }
  });

  it('on: failure starts after FAILED and TIMED_OUT, on: success after SUCCEEDED only, on: always after any ending', async () => {
    const jobs = [
      TRAIN,
      after('on-success', 'train', 'success'),
      after('on-failure', 'train', 'failure'),
      after('on-always', 'train', 'always'),
    ];
    for (const [outcome, expected] of [
      ['OK', ['on-success', 'on-always']],
      ['ERROR', ['on-failure', 'on-always']],
      ['ABORTED', ['on-always']],
    ] as const) {
      const h = chainHarness(jobs);
      const train = await runTrain(h, outcome);
      const started: string[] = [];
      for (const job of ['on-success', 'on-failure', 'on-always']) {
        if ((await h.ledger.get(downstreamOf(job, train))) !== undefined) started.push(job);
      }
      assert.deepEqual(started, expected, outcome);
    }
  });

  it('an upstream ended outside a sweep (a cancel answered done) starts its chain at the next sweep', async () => {
    const h = chainHarness([TRAIN, after('cleanup', 'train', 'always')]);
    const [result] = await tick(h.jobs, h.clock.now(), h.deps);
    const runId = result && 'runId' in result ? (result.runId ?? '') : '';
    h.api.finish((await h.ledger.get(runId))?.operationId ?? '', 'ABORTED');
    const cancelled = await cancelRun({ runId }, h.deps);
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal(h.api.count('execute'), 1);
    await sweep(h.deps);
    assert.equal((await h.ledger.get(downstreamOf('cleanup', cancelled)))?.upstream?.status, 'CANCELLED');
  });

  it('a chained start that fails for a transient reason keeps the upstream due and is tried again', async () => {
    const h = chainHarness([TRAIN, after('report', 'train', 'success')]);
    const realCreate = h.ledger.create.bind(h.ledger);
    let failures = 0;
    h.ledger.create = async (record) => {
      if (record.trigger === 'chain' && failures++ === 0) throw new RunnerError('LEDGER_ERROR', 'down');
      return realCreate(record);
    };
    const train = await runTrain(h, 'OK');
    assert.equal(train.downstreamStartedAt, undefined);
    assert.ok(train.nextCheckAt, 'still due');
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal((await h.ledger.get(downstreamOf('report', train)))?.status, 'RUNNING');
    assert.ok((await h.ledger.get(train.runId))?.downstreamStartedAt);
  });

  it('a chain goes on: a job after a job after a job', async () => {
    const h = chainHarness([
      TRAIN,
      after('features', 'train', 'success'),
      after('publish', 'features', 'success'),
    ]);
    const train = await runTrain(h, 'OK');
    const features = downstreamOf('features', train);
    h.api.finish((await h.ledger.get(features))?.operationId ?? '', 'OK');
    h.clock.advance(60);
    await sweep(h.deps);
    const publish = await h.ledger.get(runIdFor(chainDedupeKey('publish', features)));
    assert.equal(publish?.status, 'RUNNING');
    assert.equal(publish?.upstream?.job, 'features');
  });

  it('a retried upstream starts its chain once, after its last attempt, not after a failed one', async () => {
    const retried: Job = {
      ...TRAIN,
      run: { ...REQUEST, retry: { attempts: 2, delaySeconds: 10, backoff: 1, on: ['FAILED'] } },
    };
    const h = chainHarness([retried, after('alert', 'train', 'failure')]);
    const first = await runTrain(h, 'ERROR');
    assert.ok(first.retryAt);
    assert.equal(h.api.count('execute'), 1, 'nothing chained after an attempt that will be retried');
    h.clock.advance(10);
    await sweep(h.deps);
    const second = await h.ledger.get((await h.ledger.get(first.runId))?.retriedBy ?? '');
    h.api.finish(second?.operationId ?? '', 'ERROR');
    h.clock.advance(60);
    await sweep(h.deps);
    const alert = await h.ledger.get(runIdFor(chainDedupeKey('alert', second?.runId ?? '')));
    assert.equal(alert?.status, 'RUNNING');
    assert.equal(alert?.upstream?.runId, second?.runId);
    assert.equal(h.api.count('execute'), 3);
  });

  it('passes the upstream result as JSON (left out over 4 KiB); an Open job gets no variables', () => {
    const upstream = {
      runId: 'u1',
      status: 'SUCCEEDED',
      job: { name: 'train', slot: '2026-06-01T03:00:00.000Z' },
      result: { projectUrl: 'https://datasphere.yandex.cloud/p1', rows: 3 },
    } as unknown as RunRecord;
    assert.deepEqual(chainedRequest(REQUEST, upstream).inputVariables, {
      UPSTREAM_RUN_ID: 'u1',
      UPSTREAM_STATUS: 'SUCCEEDED',
      UPSTREAM_JOB: 'train',
      UPSTREAM_RESULT: '{"projectUrl":"https://datasphere.yandex.cloud/p1","rows":3}',
    });
    const big = { ...upstream, result: { blob: 'x'.repeat(5000) } } as RunRecord;
    assert.equal(chainedRequest(REQUEST, big).inputVariables?.UPSTREAM_RESULT, undefined);
    const open: RunRequest = { action: 'open', projectId: 'p1' };
    assert.deepEqual(chainedRequest(open, upstream), open);
  });

  it('a skip job whose previous run still runs is not started, and that is not retried', async () => {
    const reportJob: Job = {
      ...after('report', 'train', 'always'),
      run: { ...REQUEST, timeoutSeconds: 604800 },
    };
    const h = chainHarness([TRAIN, reportJob]);
    const train = await runTrain(h, 'OK');
    const report = await h.ledger.get(downstreamOf('report', train));
    assert.equal(report?.status, 'RUNNING');
    // The next day's train run ends while yesterday's report still runs: the skip job is not started.
    h.clock.ms = Date.parse('2026-06-02T03:00:05Z');
    const next = await runTrain(h, 'OK');
    assert.equal(await h.ledger.get(downstreamOf('report', next)), undefined);
    assert.equal(h.logged("chained run skipped: the job's previous run is still running").length, 1);
    assert.ok((await h.ledger.get(next.runId))?.downstreamStartedAt, 'a refusal for good is not retried');
  });
});
