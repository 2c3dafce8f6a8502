/**
 * The figures one sweep yields, with the real core (sweep, checkRun, startRun, getRun) on the in-memory
 * ledger and the fake API: what counts as started, ended, open, and which API calls failed with what.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getRun } from '../../shared/core/get-run.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { RunnerError } from '../../shared/errors.ts';
import { callErrorCode } from '../../shared/metrics/call-error-code.ts';
import { METRIC, percentile, sweepPayload } from '../../shared/metrics/monitoring-payload.ts';
import { SweepFigureCollector, type SweepFigures } from '../../shared/metrics/sweep-figures.ts';
import { ApiFailure, type Harness, harness, REQUEST, RecordingNotifier } from '../core/core-fixtures.ts';
import { pointValue, writeProblems } from './fake-monitoring.ts';

async function started(h: Harness, key: string) {
  const result = await startRun(
    { request: { ...REQUEST, notebookId: `${key}.ipynb` }, trigger: 'http', dedupe: { kind: 'key', key } },
    h.deps,
  );
  return result.record;
}

/** One sweep with a collector; returns its figures. */
async function measuredSweep(h: Harness, signal?: AbortSignal): Promise<SweepFigures> {
  const collector = new SweepFigureCollector(h.deps.now);
  await sweep(collector.instrument(h.deps), signal);
  return collector.figures(true);
}

function validPayload(figures: SweepFigures) {
  const body = JSON.parse(JSON.stringify(sweepPayload(figures)));
  const problems = writeProblems({
    query: new URLSearchParams({ folderId: 'b1gfolder', service: 'custom' }),
    headers: { 'content-type': 'application/json' },
    body,
  });
  assert.deepEqual(problems, [], 'the payload passes the reference checks');
  return body;
}

describe('sweep figures', () => {
  it('counts first checks as starts, endings by status with their durations, open runs, API calls', async () => {
    const h = harness();
    const ok = await started(h, 'ok');
    const bad = await started(h, 'bad');
    const long = await started(h, 'long');
    h.clock.advance(30);
    h.api.finish(ok.operationId ?? '', 'OK');
    h.api.finish(bad.operationId ?? '', 'ERROR');

    const first = await measuredSweep(h);
    assert.equal(first.dueRuns, 3);
    assert.equal(first.checkedRuns, 3);
    assert.equal(first.uncheckedRuns, 0);
    assert.equal(first.started, 3);
    assert.deepEqual(first.ended, { SUCCEEDED: 1, FAILED: 1 });
    assert.deepEqual(first.open, { RUNNING: 1 });
    assert.deepEqual(first.durationsSeconds, [30, 30]);
    assert.deepEqual([...first.apiCalls], [['operations.get', 3]]);
    assert.equal(first.apiErrors.size, 0);
    assert.equal(first.completed, true);

    const body = validPayload(first);
    assert.equal(pointValue(body, METRIC.runsStarted), 3);
    assert.equal(pointValue(body, METRIC.runsEnded, { status: 'SUCCEEDED' }), 1);
    assert.equal(pointValue(body, METRIC.runsEnded, { status: 'FAILED' }), 1);
    assert.equal(pointValue(body, METRIC.runsEnded, { status: 'TIMED_OUT' }), 0, 'zeros are sent');
    assert.equal(pointValue(body, METRIC.runsOpen, { status: 'RUNNING' }), 1);
    assert.equal(pointValue(body, METRIC.runsOpen, { status: 'STARTING' }), 0);
    assert.equal(pointValue(body, METRIC.runDuration, { stat: 'p95' }), 30);
    assert.equal(pointValue(body, METRIC.runDuration, { stat: 'sum' }), 60);
    assert.equal(pointValue(body, METRIC.sweepDueRuns), 3);
    assert.equal(pointValue(body, METRIC.sweepCompleted), 1);
    assert.equal(pointValue(body, METRIC.apiCalls, { call: 'operations.get' }), 3);
    assert.deepEqual(body.labels, { app: 'datasphere-runner' });

    h.clock.advance(120);
    const second = await measuredSweep(h);
    assert.equal(second.started, 0, 'a run is started once');
    assert.deepEqual(second.ended, {}, 'an ending is counted once');
    assert.deepEqual(second.open, { RUNNING: 1 });
    const quiet = validPayload(second);
    assert.equal(
      pointValue(quiet, METRIC.runDuration, { stat: 'max' }),
      undefined,
      'no duration without endings',
    );
    assert.equal(pointValue(quiet, METRIC.runsEnded, { status: 'SUCCEEDED' }), 0);
    assert.ok(long.runId);
  });

  it('counts an ending made elsewhere (status call, failed start) once, at the sweep that settles it', async () => {
    const h = harness();
    const run = await started(h, 'elsewhere');
    h.api.failures.execute = [() => new ApiFailure(400, 3, 'notebook not found', false)];
    const rejected = await started(h, 'rejected');
    assert.equal(rejected.status, 'FAILED');
    h.clock.advance(10);
    h.api.finish(run.operationId ?? '', 'OK');
    const refreshed = await getRun({ runId: run.runId }, h.deps);
    assert.equal(refreshed.status, 'SUCCEEDED', 'ended by the status call, not by a sweep');

    const first = await measuredSweep(h);
    assert.deepEqual(first.ended, { SUCCEEDED: 1, FAILED: 1 });
    assert.equal(first.started, 0, 'neither was ever seen running by a sweep');
    assert.deepEqual(
      [...first.durationsSeconds].sort((a, b) => a - b),
      [0, 10],
    );

    h.clock.advance(120);
    const second = await measuredSweep(h);
    assert.deepEqual(second.ended, {});
  });

  it('counts a timed-out run, and failed API calls by call and code', async () => {
    const h = harness({ settings: { runTimeoutSeconds: 60 } });
    const slow = await started(h, 'slow');
    const flaky = await started(h, 'flaky');
    h.api.hidden.add(flaky.operationId ?? '');
    const first = await measuredSweep(h);
    assert.deepEqual(
      Object.fromEntries(first.apiErrors.get('operations.get') ?? []),
      { NOT_FOUND: 1 },
      'an early 404 is counted (the run stays RUNNING)',
    );
    h.api.hidden.clear();
    h.api.failures.get = [
      () => new ApiFailure(503, 14, 'unavailable'),
      () => new ApiFailure(503, 14, 'unavailable'),
    ];
    h.clock.advance(20);
    const second = await measuredSweep(h);
    assert.deepEqual(Object.fromEntries(second.apiErrors.get('operations.get') ?? []), { UNAVAILABLE: 2 });
    assert.equal(second.apiCalls.get('operations.get'), 2);
    assert.deepEqual(second.open, { RUNNING: 2 });

    h.clock.advance(61);
    h.api.failures.cancel = [() => new RunnerError('API_TIMEOUT', 'Operation.Cancel timed out')];
    const third = await measuredSweep(h);
    assert.deepEqual(third.ended, { TIMED_OUT: 2 });
    assert.equal(third.apiCalls.get('operations.cancel'), 2);
    assert.deepEqual(Object.fromEntries(third.apiErrors.get('operations.cancel') ?? []), { API_TIMEOUT: 1 });
    const body = validPayload(third);
    assert.equal(pointValue(body, METRIC.runsEnded, { status: 'TIMED_OUT' }), 2);
    assert.equal(pointValue(body, METRIC.apiErrors, { call: 'operations.cancel', code: 'API_TIMEOUT' }), 1);
    assert.ok(slow.runId);
  });

  it('counts report deliveries and failures by destination, zeros included', async () => {
    const notifier = new RecordingNotifier(['webhook', 'queue']);
    notifier.failing.add('queue');
    const h = harness({ notifier });
    const run = await started(h, 'reported');
    const idle = new SweepFigureCollector(h.deps.now);
    await sweep(idle.instrument(h.deps));
    assert.deepEqual(Object.fromEntries(idle.figures(true).notifications), {
      webhook: { delivered: 0, failed: 0 },
      queue: { delivered: 0, failed: 0 },
    });
    h.api.finish(run.operationId ?? '', 'OK');
    h.clock.advance(60);
    const figures = await measuredSweep(h);
    assert.deepEqual(Object.fromEntries(figures.notifications), {
      webhook: { delivered: 1, failed: 0 },
      queue: { delivered: 0, failed: 1 },
    });
    const body = validPayload(figures);
    assert.equal(pointValue(body, METRIC.notifyFailures, { destination: 'queue' }), 1);
    assert.equal(pointValue(body, METRIC.notifyDelivered, { destination: 'webhook' }), 1);
  });

  it('a sweep out of time counts the due runs it did not reach by their status', async () => {
    const h = harness();
    await started(h, 'a');
    await started(h, 'b');
    const figures = await measuredSweep(h, AbortSignal.abort());
    assert.equal(figures.dueRuns, 0, 'an aborted sweep reads nothing');
    const controller = new AbortController();
    const collector = new SweepFigureCollector(h.deps.now);
    const deps = collector.instrument(h.deps);
    // Abort after the first page is read, before any run is checked.
    const ledger = deps.ledger;
    const sweepDeps = {
      ...deps,
      ledger: {
        ...ledger,
        listDue: async (dueBy: Date, limit: number) => {
          const page = await ledger.listDue(dueBy, limit);
          controller.abort();
          return page;
        },
      },
    };
    await sweep(sweepDeps, controller.signal);
    const cut = collector.figures(true);
    assert.equal(cut.dueRuns, 2);
    assert.equal(cut.uncheckedRuns, 2);
    assert.equal(cut.checkedRuns, 0);
    assert.deepEqual(cut.open, { RUNNING: 2 });
    assert.equal(cut.started, 0);
  });

  it('counts calls through a class instance without losing `this`', async () => {
    class Port {
      #calls = 0;
      async get(id: string) {
        this.#calls++;
        if (id === 'bad') throw Object.assign(new Error('x'), { httpStatus: 502 });
        return { id, calls: this.#calls };
      }
    }
    const h = harness();
    const collector = new SweepFigureCollector(h.deps.now);
    const deps = collector.instrument({ ...h.deps, operations: new Port() as never });
    const port = deps.operations as unknown as Port;
    assert.deepEqual(await port.get('a'), { id: 'a', calls: 1 });
    await assert.rejects(port.get('bad'), /x/);
    const figures = collector.figures(true);
    assert.equal(figures.apiCalls.get('operations.get'), 2);
    assert.deepEqual(Object.fromEntries(figures.apiErrors.get('operations.get') ?? []), { HTTP_502: 1 });
  });
});

describe('callErrorCode', () => {
  it('names a failure by rpc code, HTTP status, product code, abort, else INTERNAL', () => {
    assert.equal(callErrorCode(new ApiFailure(503, 14, 'x')), 'UNAVAILABLE');
    assert.equal(callErrorCode({ rpcName: 'PERMISSION_DENIED', rpcCode: 7 }), 'PERMISSION_DENIED');
    assert.equal(callErrorCode({ rpcCode: 42 }), 'CODE_42');
    assert.equal(callErrorCode({ httpStatus: 502 }), 'HTTP_502');
    assert.equal(callErrorCode(new RunnerError('API_UNREACHABLE', 'down')), 'API_UNREACHABLE');
    assert.equal(callErrorCode(new DOMException('aborted', 'AbortError')), 'ABORTED');
    assert.equal(callErrorCode(new Error('boom')), 'INTERNAL');
    assert.equal(callErrorCode({ rpcName: 'not a code; with text' }), 'INTERNAL');
  });
});

describe('percentile', () => {
  it('is the nearest rank', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 10);
    assert.equal(percentile(values, 95), 19);
    assert.equal(percentile(values, 100), 20);
    assert.equal(percentile([7], 95), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});
