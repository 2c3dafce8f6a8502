/**
 * Run reports end to end: the built check function POSTs `{type: 'run.finished', deliveryId, run}` to
 * a webhook once per ending, with the shared secret; a webhook that fails is retried by later sweeps.
 * The notification retry waits 30 s of wall-clock time, so the function processes here run with a
 * clock the test can move forward (support/clock-shift.mjs) instead of the test waiting.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import type { InvokeResult } from '../../local/platform.ts';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { eventually, type Json, PROJECT } from './support/harness.ts';
import { platformOnStore } from './support/platform-on-store.ts';

const SECRET = 'whsec-e2e-notify-4f1c8a2d9b7e';

const bundles = bundlesForTestFile();
describe('run reports to a webhook', () => {
  const {
    harness: h,
    webhook: hook,
    clock,
  } = platformOnStore({
    bundles,
    store: 'file',
    dirPrefix: 'ds-e2e-notify-',
    movableClock: true,
    webhook: true,
    env: { NOTIFY_WEBHOOK_SECRET: SECRET },
  });

  let extraCheck: ((event: unknown) => Promise<InvokeResult>) | undefined;

  /** A second check instance (started once). */
  async function checkInstance(): Promise<(event: unknown) => Promise<InvokeResult>> {
    extraCheck ??= await h().platform.addInstance('check');
    return extraCheck;
  }

  async function startRun(notebookId: string): Promise<string> {
    const answer = await h().execute({ projectId: PROJECT, notebookId });
    assert.equal(answer.status, 202, answer.text);
    return answer.json?.runId as string;
  }

  it('a finished run is reported once, with the secret header and a signature over the body', async () => {
    h().emulator.plan({ notebookId: 'notify/ok.ipynb', durationMs: 100 });
    const runId = await startRun('notify/ok.ipynb');
    await h().waitForStatus(runId, 'SUCCEEDED');
    await eventually('the report', () => hook().about(runId).length > 0);
    for (let i = 0; i < 3; i++) await h().platform.tick();
    const reports = hook().about(runId);
    assert.equal(reports.length, 1);
    const [report] = reports;
    assert.equal(report?.headers['x-runner-secret'], SECRET);
    const signature = `sha256=${createHmac('sha256', SECRET)
      .update(report?.body ?? '')
      .digest('hex')}`;
    assert.equal(report?.headers['x-runner-signature'], signature);
    assert.equal(report?.headers['content-type'], 'application/json');
    assert.equal(report?.json?.type, 'run.finished');
    assert.equal(report?.json?.deliveryId, `${runId}:SUCCEEDED`);
    assert.equal(report?.headers['idempotency-key'], `${runId}:SUCCEEDED`);
    const record = (await h().check(runId)).json as Json;
    for (const field of [
      'runId',
      'operationId',
      'projectId',
      'notebookId',
      'status',
      'executionStatus',
      'finishedAt',
    ]) {
      assert.equal(report?.json?.run[field], record[field], field);
    }
    assert.equal(h().logs.finishedCount(runId), 1);
  });

  it('a webhook that fails at first is retried by a later sweep and the report is delivered once', async () => {
    h().emulator.plan({ notebookId: 'notify/retry.ipynb', durationMs: 100 });
    const runId = await startRun('notify/retry.ipynb');
    hook().failing.add(runId);
    await h().waitForStatus(runId, 'SUCCEEDED');
    // The sweep's in-call attempts (3) all fail; the report waits for a later sweep (30 s later).
    await eventually('the failed delivery', () =>
      h().logs.lines('run report delivery failed; will retry', runId).at(0),
    );
    const failedAttempts = hook().about(runId).length;
    assert.ok(failedAttempts >= 1);
    assert.ok(
      hook()
        .about(runId)
        .every((report) => report.status === 503),
    );
    for (let i = 0; i < 3; i++) await h().platform.tick();
    assert.equal(hook().about(runId).length, failedAttempts, 'not retried before its time');

    hook().failing.delete(runId);
    clock().advance(31_000);
    await eventually('the delivery', async () => {
      await h().platform.tick();
      return h().logs.lines('run report delivered', runId).length > 0;
    });
    clock().advance(3_600_000);
    for (let i = 0; i < 3; i++) await h().platform.tick();
    const reports = hook().about(runId);
    assert.equal(reports.filter((report) => report.status === 204).length, 1);
    assert.equal(reports.length, failedAttempts + 1);
    assert.deepEqual(
      new Set(reports.map((report) => report.headers['idempotency-key'])),
      new Set([`${runId}:SUCCEEDED`]),
    );
    const runs = reports.map((report) => {
      const { updatedAt: _updatedAt, ...run } = report.json?.run ?? {};
      return JSON.stringify(run);
    });
    assert.equal(new Set(runs).size, 1, 'every attempt reports the same run');
    const delivered = h().logs.lines('run report delivered', runId);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]?.attempts, 2);
    assert.equal(h().logs.finishedCount(runId), 1);
  });

  it('two check instances sweeping twenty finished runs at once deliver each report once', async () => {
    const second = await checkInstance();
    // A slow receiver keeps the winning sweep between its claim and its final write for a while.
    hook().delayMs = 300;
    const notebooks = Array.from({ length: 20 }, (_, i) => `notify/overlap-${i}.ipynb`);
    for (const notebookId of notebooks) h().emulator.plan({ notebookId, durationMs: 50 });
    const runIds = await Promise.all(notebooks.map((notebookId) => startRun(notebookId)));
    await eventually('the operations to be done', () =>
      notebooks.every((notebookId) => h().operationsOf(notebookId)[0]?.done === true),
    );
    await eventually('every report', async () => {
      await Promise.all([h().platform.invoke('check', timerEvent()), second(timerEvent())]);
      return runIds.every((runId) => hook().about(runId).length > 0);
    });
    await Promise.all([h().platform.invoke('check', timerEvent()), second(timerEvent())]);
    const twice = runIds.filter((runId) => hook().about(runId).length !== 1);
    assert.deepEqual(twice, [], 'runs whose report was delivered more than once');
  });

  // Product bug (shared/core/check-run.ts, checkRun → settle): the sweep that loses the compare-and-set
  // that finishes a run re-reads the record and settles it too. settle() does not honour the claim the
  // winning sweep wrote (nextCheckAt moved 120 s out) and claims the claimed version again, so while the
  // winner is still sending, the loser POSTs the same report. Choreographed so the race always happens:
  // sweep B reads the run first but its Operation.Get is held back 1.5 s; sweep A finishes the run,
  // claims it and POSTs to a receiver that answers after 3 s; then B's Get returns.
  it('a sweep that loses the race to finish a run does not deliver the report the winner is delivering', async () => {
    const second = await checkInstance();
    hook().delayMs = 3_000;
    h().emulator.plan({ notebookId: 'notify/race.ipynb', durationMs: 50 });
    const runId = await startRun('notify/race.ipynb');
    const [operation] = await eventually('the operation to be done', () => {
      const ops = h().operationsOf('notify/race.ipynb');
      return ops[0]?.done === true ? ops : undefined;
    });
    const getPath = `/operations/${operation?.id}`;
    const gets = () => h().emulator.requests.filter((r) => r.method === 'GET' && r.path === getPath).length;
    h().emulator.inject({ kind: 'latency', method: 'GET', path: getPath, latencyMs: 1_500 });
    const sweepB = second(timerEvent());
    await eventually("sweep B's Operation.Get", () => gets() >= 1);
    const sweepA = h().platform.invoke('check', timerEvent());
    await eventually("sweep A's report", () => hook().about(runId).length >= 1);
    const [a, b] = await Promise.all([sweepA, sweepB]);
    assert.equal(a.ok, true, a.errorMessage);
    assert.equal(b.ok, true, b.errorMessage);
    await h().platform.tick();
    assert.equal(h().logs.finishedCount(runId), 1);
    assert.equal(hook().about(runId).length, 1, 'the report was POSTed more than once');
  });
});
