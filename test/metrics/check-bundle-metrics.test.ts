/**
 * Sweep metrics end to end: the BUILT check bundle sweeps against the DataSphere emulator and writes to
 * a local fake of Yandex Monitoring (./fake-monitoring.ts, which checks every request against the
 * public reference). One write per sweep, with the figures of what that sweep did; a failing or slow
 * Monitoring never fails the sweep nor holds it past METRICS_TIMEOUT_MS; nothing is sent when metrics
 * are off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { METRIC } from '../../shared/metrics/monitoring-payload.ts';
import { bundlesForTestFile } from '../e2e/support/bundles-for-test-file.ts';
import { eventually, type Json, PROJECT, startHarness } from '../e2e/support/harness.ts';
import { platformOnStore } from '../e2e/support/platform-on-store.ts';
import { type FakeMonitoring, pointValue, startFakeMonitoring } from './fake-monitoring.ts';

const FOLDER = 'b1gmetricse2e0000001';
const TOKEN = 't1.test-token';
const TIMEOUT_MS = 400;

let monitoring: FakeMonitoring | undefined;
const fake = (): FakeMonitoring => {
  if (monitoring === undefined) throw new Error('the fake did not start');
  return monitoring;
};

const bundles = bundlesForTestFile();
// Started before the platform: its URL is in the functions' environment.
before(async () => {
  monitoring = await startFakeMonitoring();
  monitoring.expectedToken = TOKEN;
});
after(async () => {
  await monitoring?.close();
});

/** The sum of one point over several writes. */
function total(writes: readonly Json[], name: string, labels: Record<string, string> = {}): number {
  return writes.reduce((sum, body) => sum + (pointValue(body, name, labels) ?? 0), 0);
}

describe('sweep metrics from the built check bundle', () => {
  const { harness: h } = platformOnStore({
    bundles,
    store: 'file',
    dirPrefix: 'ds-metrics-e2e-',
    env: () => ({
      YC_IAM_TOKEN: TOKEN,
      METRICS_FOLDER_ID: FOLDER,
      MONITORING_ENDPOINT: fake().url,
      METRICS_TIMEOUT_MS: String(TIMEOUT_MS),
    }),
  });
  async function startRun(body: Record<string, unknown>): Promise<string> {
    const answer = await h().execute({ projectId: PROJECT, ...body });
    assert.equal(answer.status, 202, answer.text);
    return answer.json?.runId as string;
  }

  it('every sweep writes once, valid against the reference, with the figures of what it did', async (t) => {
    const sweepsBefore = h().logs.lines('sweep done').length;
    const writesBefore = fake().writes.length;
    h().emulator.plan({ notebookId: 'm/ok.ipynb', outcome: 'OK', durationMs: 100 });
    h().emulator.plan({ notebookId: 'm/fail.ipynb', outcome: 'ERROR', durationMs: 100 });
    h().emulator.plan({ notebookId: 'm/slow.ipynb', outcome: 'OK', durationMs: 600_000 });
    const ok = await startRun({ notebookId: 'm/ok.ipynb' });
    const fail = await startRun({ notebookId: 'm/fail.ipynb' });
    const slow = await startRun({ notebookId: 'm/slow.ipynb', timeoutSeconds: 1 });
    // One Operation.Get of the next sweep answers 400 FAILED_PRECONDITION (not retried): an API error.
    h().emulator.inject({ kind: 'status', method: 'GET', path: '/operations/', status: 400, rpcCode: 9 });
    await h().waitForStatus(ok, 'SUCCEEDED');
    await h().waitForStatus(fail, 'FAILED');
    await h().waitForStatus(slow, 'TIMED_OUT');
    await h().platform.tick();

    // Log lines arrive through the functions' stdout pipes, a little after the invocations' answers.
    await eventually(
      'every sweep line',
      () => h().logs.lines('sweep done').length - sweepsBefore === fake().writes.length - writesBefore,
    );
    const sweeps = h().logs.lines('sweep done').slice(sweepsBefore);
    const writes = fake().writes.slice(writesBefore);
    assert.ok(sweeps.length >= 2, `${sweeps.length} sweeps`);
    assert.equal(writes.length, sweeps.length, 'one write per sweep');
    for (const write of writes) {
      assert.deepEqual(write.problems, [], 'the write matches the reference');
      assert.equal(write.status, 200);
      assert.equal(write.query.get('folderId'), FOLDER);
      assert.equal(write.query.get('service'), 'custom');
      assert.equal(write.headers.authorization, `Bearer ${TOKEN}`);
      assert.match(String(write.headers['user-agent']), /\+metrics/);
      assert.equal(pointValue(write.body, METRIC.sweepCompleted), 1);
    }
    const bodies = writes.map((write) => write.body);
    assert.deepEqual(
      bodies.map((body) => pointValue(body, METRIC.sweepDueRuns)),
      sweeps.map((line) => line.due),
      'each write carries its own sweep’s due runs, in order',
    );
    assert.deepEqual(
      bodies.map((body) => pointValue(body, METRIC.sweepCheckedRuns)),
      sweeps.map((line) => line.checked),
    );
    assert.equal(total(bodies, METRIC.runsStarted), 3, 'three runs started');
    assert.equal(total(bodies, METRIC.runsEnded, { status: 'SUCCEEDED' }), 1);
    assert.equal(total(bodies, METRIC.runsEnded, { status: 'FAILED' }), 1);
    assert.equal(total(bodies, METRIC.runsEnded, { status: 'TIMED_OUT' }), 1);
    assert.equal(total(bodies, METRIC.runsEnded, { status: 'CANCELLED' }), 0);
    assert.equal(
      total(bodies, METRIC.apiErrors, { call: 'operations.get', code: 'FAILED_PRECONDITION' }),
      1,
      'the injected 400',
    );
    assert.ok(
      total(bodies, METRIC.apiCalls, { call: 'operations.cancel' }) >= 1,
      'the timed-out run was cancelled',
    );
    const ending = bodies.find((body) => (pointValue(body, METRIC.runDuration, { stat: 'max' }) ?? -1) >= 0);
    assert.ok(ending, 'a write carries run durations');
    assert.equal(
      pointValue(bodies.at(-1), METRIC.runsOpen, { status: 'RUNNING' }),
      0,
      'nothing open at the end',
    );
    t.diagnostic(`one sweep's write: ${JSON.stringify(ending)}`);
  });

  it('a Monitoring that answers 503 does not fail the sweep; the failure is logged', async () => {
    fake().failWith = { status: 503, body: '{"code":14,"message":"service unavailable","details":[]}' };
    try {
      h().emulator.plan({ notebookId: 'm/during-outage.ipynb', outcome: 'OK', durationMs: 100 });
      const runId = await startRun({ notebookId: 'm/during-outage.ipynb' });
      await h().waitForStatus(runId, 'SUCCEEDED');
      const result = await h().platform.invoke('check', timerEvent());
      assert.equal(result.ok, true, result.errorMessage);
      assert.equal(typeof (result.result as Json).due, 'number', 'the sweep summary is answered');
      await eventually('the warning', () =>
        h()
          .logs.lines('metrics write failed; the sweep goes on')
          .some((line) => line.httpStatus === 503),
      );
      const [failed] = h()
        .logs.lines('metrics write failed; the sweep goes on')
        .filter((line) => line.httpStatus === 503);
      assert.ok(failed, 'the failed write is logged');
      assert.match(String(failed.reason), /HTTP 503 \(code 14\): service unavailable/);
      assert.equal(failed.level, 'WARN');
      assert.ok(!h().logs.allText().includes(TOKEN), 'the token is not logged');
    } finally {
      fake().failWith = undefined;
    }
  });

  it('a Monitoring that does not answer holds the sweep no longer than METRICS_TIMEOUT_MS', async () => {
    fake().delayMs = 60_000;
    try {
      const before = fake().writes.length;
      const result = await h().platform.invoke('check', timerEvent());
      assert.equal(result.ok, true, result.errorMessage);
      assert.equal(fake().writes.length, before + 1, 'the write was sent');
      assert.ok(fake().pending >= 1, 'the sweep answered while Monitoring still held the write');
      await eventually('the warning', () =>
        h()
          .logs.lines('metrics write failed; the sweep goes on')
          .some((line) => line.reason === `no answer within ${TIMEOUT_MS} ms`),
      );
      const timedOut = h()
        .logs.lines('metrics write failed; the sweep goes on')
        .filter((line) => line.reason === `no answer within ${TIMEOUT_MS} ms`);
      assert.equal(timedOut.length, 1);
    } finally {
      fake().delayMs = 0;
    }
    // The next sweep writes normally again.
    const before = fake().writes.length;
    assert.equal((await h().platform.invoke('check', timerEvent())).ok, true);
    await eventually('the next write', () => fake().writes.length > before);
    assert.equal(fake().writes.at(-1)?.status, 200);
  });

  it('without METRICS_FOLDER_ID nothing is sent', async () => {
    const quiet = await startHarness({
      distDir: bundles().distDir,
      env: {
        RUN_STORE: `file:${bundles().dir}/runs-quiet`,
        ALLOWED_PROJECTS: PROJECT,
        MONITORING_ENDPOINT: fake().url,
      },
    });
    try {
      const before = fake().writes.length;
      quiet.emulator.plan({ notebookId: 'm/quiet.ipynb', outcome: 'OK', durationMs: 100 });
      const answer = await quiet.execute({ projectId: PROJECT, notebookId: 'm/quiet.ipynb' });
      assert.equal(answer.status, 202, answer.text);
      await quiet.waitForStatus(answer.json?.runId as string, 'SUCCEEDED');
      await quiet.platform.tick();
      await eventually('two sweeps', () => quiet.logs.lines('sweep done').length >= 2);
      assert.equal(fake().writes.length, before, 'no write without a folder');
      assert.equal(quiet.logs.lines('metrics write failed; the sweep goes on').length, 0);
    } finally {
      await quiet.close();
    }
  });
});
