import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../shared/config.ts';
import { nextCheckAt } from '../../shared/core/check-schedule.ts';
import { DEFAULT_SETTINGS } from '../../shared/core/ports.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { SWEEP_PAGE_SIZE, sweep } from '../../shared/core/sweep.ts';
import { ApiFailure, harness, REQUEST, RecordingNotifier } from './core-fixtures.ts';

async function started(h: ReturnType<typeof harness>, key = 'k', request: object = REQUEST) {
  const result = await startRun(
    { request: request as typeof REQUEST, trigger: 'http', dedupe: { kind: 'key', key } },
    h.deps,
  );
  return result.record;
}

describe('sweep', () => {
  for (const [outcome, status] of [
    ['OK', 'SUCCEEDED'],
    ['ERROR', 'FAILED'],
    ['ABORTED', 'CANCELLED'],
  ] as const) {
    it(`records executionStatus ${outcome} as ${status} and reports it once`, async () => {
      const h = harness();
      const run = await started(h);
      h.api.finish(run.operationId ?? '', outcome);
      const summary = await sweep(h.deps);
      assert.equal(summary.finished, 1);
      const after = await h.ledger.get(run.runId);
      assert.equal(after?.status, status);
      assert.equal(after?.executionStatus, outcome);
      assert.ok(after?.finishedAt);
      const reports = h.logged('run finished');
      assert.equal(reports.length, 1);
      assert.equal((reports[0]?.run as { status?: string } | undefined)?.status, status);
      assert.equal(reports[0]?.operationId, run.operationId);
      h.clock.advance(120);
      await sweep(h.deps);
      assert.equal(h.logged('run finished').length, 1, 'never reported twice');
      assert.equal(
        await h.ledger.get(run.runId).then((r) => r?.nextCheckAt),
        undefined,
        'settled: out of the index',
      );
    });
  }

  it('records an operation error as FAILED, and code 1 as CANCELLED', async () => {
    const h = harness();
    const a = await started(h, 'a');
    const b = await started(h, 'b', { ...REQUEST, notebookId: 'b.ipynb' });
    h.api.finish(a.operationId ?? '', { code: 13, message: 'internal' });
    h.api.finish(b.operationId ?? '', { code: 1, message: 'cancelled' });
    await sweep(h.deps);
    const ra = await h.ledger.get(a.runId);
    assert.equal(ra?.status, 'FAILED');
    assert.deepEqual(ra?.error, { code: 13, message: 'internal' });
    assert.equal((await h.ledger.get(b.runId))?.status, 'CANCELLED');
  });

  it('keeps a run RUNNING when an error appears before done, and records the error', async () => {
    const h = harness();
    const run = await started(h);
    h.api.finish(run.operationId ?? '', { code: 13, message: 'rolling back' }, false);
    await sweep(h.deps);
    const after = await h.ledger.get(run.runId);
    assert.equal(after?.status, 'RUNNING');
    assert.deepEqual(after?.error, { code: 13, message: 'rolling back' });
  });

  it('treats 404 from Operation.Get shortly after the start as not yet visible, and later as lost', async () => {
    const h = harness({ settings: { notFoundGraceSeconds: 120 } });
    const run = await started(h);
    h.api.hidden.add(run.operationId ?? '');
    await sweep(h.deps);
    let after = await h.ledger.get(run.runId);
    assert.equal(after?.status, 'RUNNING');
    assert.equal(after?.notFoundCount, 1);
    h.clock.advance(121);
    await sweep(h.deps);
    after = await h.ledger.get(run.runId);
    assert.equal(after?.status, 'FAILED');
    assert.equal(after?.error?.code, 5);
  });

  it('keeps checking after a transient Operation.Get failure', async () => {
    const h = harness();
    const run = await started(h);
    h.api.failures.get = [() => new ApiFailure(503, 14, 'unavailable')];
    const summary = await sweep(h.deps);
    assert.equal(summary.stillRunning, 1);
    assert.equal((await h.ledger.get(run.runId))?.status, 'RUNNING');
    h.api.finish(run.operationId ?? '', 'OK');
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal((await h.ledger.get(run.runId))?.status, 'SUCCEEDED');
  });

  it('backs off between checks, caps the interval and never schedules past the deadline', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const far = new Date('2027-01-01T00:00:00Z');
    const delays = [1, 2, 3, 4, 10].map(
      (checks) => (nextCheckAt(now, checks, far, DEFAULT_SETTINGS).getTime() - now.getTime()) / 1000,
    );
    assert.deepEqual(delays, [20, 40, 60, 60, 60]);
    const soon = new Date(now.getTime() + 5000);
    assert.equal(nextCheckAt(now, 9, soon, DEFAULT_SETTINGS).getTime(), soon.getTime());
  });

  it('checks a new run at the first sweep after its start by default (CHECK_FIRST_DELAY_SECONDS 0)', async () => {
    assert.equal(DEFAULT_SETTINGS.checkFirstDelaySeconds, 0);
    assert.equal(loadConfig({}, { cwd: '/tmp' }).checkFirstDelaySeconds, 0, 'the setting defaults to 0');
    assert.equal(loadConfig({ CHECK_FIRST_DELAY_SECONDS: '75' }, { cwd: '/tmp' }).checkFirstDelaySeconds, 75);
    const h = harness({ settings: { checkFirstDelaySeconds: DEFAULT_SETTINGS.checkFirstDelaySeconds } });
    const run = await started(h);
    assert.equal(run.nextCheckAt, new Date(h.clock.ms).toISOString());
    h.clock.advance(1);
    assert.equal((await sweep(h.deps)).due, 1, 'due at the first sweep');
    assert.equal(h.api.count('get'), 1);
  });

  it('with CHECK_FIRST_DELAY_SECONDS 75, checks a new run first one tick plus the due slack after its start', async () => {
    const h = harness({ settings: { checkFirstDelaySeconds: 75 } });
    const run = await started(h);
    assert.equal(run.nextCheckAt, new Date(h.clock.ms + 75_000).toISOString());
    h.clock.advance(59);
    assert.equal((await sweep(h.deps)).due, 0, 'a sweep within the first minute leaves it alone');
    h.clock.advance(1);
    assert.equal((await sweep(h.deps)).due, 1, 'due within the slack of the next tick');
  });

  it('reads only due runs: a run checked a moment ago is not checked again', async () => {
    const h = harness();
    await started(h);
    await sweep(h.deps);
    assert.equal(h.api.count('get'), 1);
    const second = await sweep(h.deps);
    assert.equal(second.due, 0);
    assert.equal(h.api.count('get'), 1);
  });

  it('cancels a run past its deadline, records TIMED_OUT at once, and follows up without reporting again', async () => {
    const h = harness();
    const run = await started(h, 'k', { ...REQUEST, timeoutSeconds: 300 });
    h.clock.advance(301);
    await sweep(h.deps);
    let after = await h.ledger.get(run.runId);
    assert.equal(after?.status, 'TIMED_OUT');
    assert.equal(after?.cancelReason, 'deadline');
    assert.equal(h.api.count('cancel'), 1);
    assert.equal(h.logged('run finished').length, 1);
    // Cancel is best effort: later sweeps keep checking and re-send it until the operation is done.
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal(h.api.count('cancel'), 2);
    h.api.finish(run.operationId ?? '', 'ABORTED');
    h.clock.advance(60);
    await sweep(h.deps);
    after = await h.ledger.get(run.runId);
    assert.equal(after?.status, 'TIMED_OUT');
    assert.equal(after?.operationDone, true);
    assert.equal(after?.nextCheckAt, undefined);
    assert.equal(h.logged('run finished').length, 1);
  });

  it('never reports one ending twice when two sweeps overlap', async () => {
    const h = harness();
    const runs = [];
    for (let i = 0; i < 10; i++)
      runs.push(await started(h, `k${i}`, { ...REQUEST, notebookId: `nb${i}.ipynb` }));
    for (const run of runs) h.api.finish(run.operationId ?? '', 'OK');
    await Promise.all([sweep(h.deps), sweep(h.deps), sweep(h.deps)]);
    assert.equal(h.logged('run finished').length, 10);
    assert.equal(new Set(h.logged('run finished').map((l) => l.runId)).size, 10);
  });

  it('keeps at most checkConcurrency Operation.Get calls in flight', async () => {
    const h = harness({ settings: { checkConcurrency: 3 } });
    for (let i = 0; i < 10; i++) await started(h, `k${i}`, { ...REQUEST, notebookId: `nb${i}.ipynb` });
    let inFlight = 0;
    let peak = 0;
    const realGet = h.api.operationsApi.get;
    h.deps.operations.get = async (id: string) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      try {
        return await realGet(id);
      } finally {
        inFlight--;
      }
    };
    const summary = await sweep(h.deps);
    assert.equal(summary.checked, 10);
    assert.equal(peak, 3);
  });

  it('stops taking new runs when its time is up; the rest stay due', async () => {
    const h = harness({ settings: { checkConcurrency: 1 } });
    for (let i = 0; i < 5; i++) await started(h, `k${i}`, { ...REQUEST, notebookId: `nb${i}.ipynb` });
    const controller = new AbortController();
    controller.abort();
    const summary = await sweep(h.deps, controller.signal);
    assert.equal(summary.checked, 0);
    assert.equal((await h.ledger.listDue(new Date(h.clock.ms + 1000), 100)).length, 5);
  });

  it('reads the due runs a page at a time and still checks every one of them', async () => {
    const h = harness();
    const total = SWEEP_PAGE_SIZE * 2 + 7;
    for (let i = 0; i < total; i++) await started(h, `k${i}`, { ...REQUEST, notebookId: `nb${i}.ipynb` });
    const pages: number[] = [];
    const listDue = h.ledger.listDue.bind(h.ledger);
    h.ledger.listDue = async (dueBy, limit) => {
      const page = await listDue(dueBy, limit);
      pages.push(page.length);
      return page;
    };
    // One run's update never lands (another sweep "wins" it): it must not be checked twice or loop.
    const update = h.ledger.update.bind(h.ledger);
    h.ledger.update = async (record) => (record.dedupeKey === 'key:k3' ? undefined : update(record));
    const summary = await sweep(h.deps);
    assert.equal(summary.checked, total);
    assert.equal(h.api.count('get'), total);
    assert.ok(Math.max(...pages) <= SWEEP_PAGE_SIZE + 1, `pages ${pages.join(', ')}`);
  });

  it('lists the due runs once when they fit in one page (no second, empty listing)', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) await started(h, `k${i}`, { ...REQUEST, notebookId: `nb${i}.ipynb` });
    const pages: number[] = [];
    const listDue = h.ledger.listDue.bind(h.ledger);
    h.ledger.listDue = async (dueBy, limit) => {
      const page = await listDue(dueBy, limit);
      pages.push(page.length);
      return page;
    };
    assert.equal((await sweep(h.deps)).checked, 5);
    assert.deepEqual(pages, [5]);
  });

  it('stops after SWEEP_LIMIT runs; the rest wait for the next tick', async () => {
    const h = harness({ settings: { sweepLimit: 4 } });
    for (let i = 0; i < 6; i++) await started(h, `k${i}`, { ...REQUEST, notebookId: `nb${i}.ipynb` });
    assert.equal((await sweep(h.deps)).checked, 4);
    assert.equal((await sweep(h.deps)).checked, 2);
  });

  it('re-drives a start whose starter died, with the same Idempotency-Key', async () => {
    const h = harness({ settings: { startRecoverySeconds: 30 } });
    h.api.failures.execute = [() => new ApiFailure(503, 14, 'unavailable')];
    await assert.rejects(
      startRun({ request: REQUEST, trigger: 'timer', dedupe: { kind: 'timer', eventId: 'e1' } }, h.deps),
    );
    await sweep(h.deps);
    const keys = h.api.calls.filter((c) => c.rpc === 'execute').map((c) => c.idempotencyKey);
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.equal((await h.ledger.listOpen())[0]?.status, 'RUNNING');
  });

  it('delivers the final report once to each destination and retries a failing one in later sweeps', async () => {
    const notifier = new RecordingNotifier(['webhook', 'queue']);
    notifier.failing.add('queue');
    const h = harness({ notifier });
    const run = await started(h);
    h.api.finish(run.operationId ?? '', 'OK');
    await sweep(h.deps);
    assert.deepEqual(notifier.delivered, [{ destination: 'webhook', runId: run.runId, status: 'SUCCEEDED' }]);
    let after = await h.ledger.get(run.runId);
    assert.equal(after?.notifications?.queue?.delivered, false);
    assert.equal(after?.notifications?.queue?.attempts, 1);
    assert.ok(after?.nextCheckAt, 'still in the index until the queue gets it');
    h.clock.advance(10);
    await sweep(h.deps);
    assert.equal(notifier.delivered.length, 1, 'not retried before its backoff');
    notifier.failing.delete('queue');
    h.clock.advance(60);
    await sweep(h.deps);
    h.clock.advance(60);
    await sweep(h.deps);
    assert.deepEqual(
      notifier.delivered.map((d) => d.destination),
      ['webhook', 'queue'],
    );
    after = await h.ledger.get(run.runId);
    assert.equal(after?.nextCheckAt, undefined);
  });
});
