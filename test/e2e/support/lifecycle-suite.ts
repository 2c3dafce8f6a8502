/**
 * The run lifecycle end to end, through the BUILT bundles, real-shaped events and the DataSphere
 * emulator: every status, every entry point, duplicate deliveries, injected faults, cancel, deadline
 * and overlapping sweeps. Called once per ledger store (`file`, `docapi`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpEvent, queueEvent, timerEvent } from '../../../local/cloud-events.ts';
import type { InvokeResult } from '../../../local/platform.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  FIXTURE_PROJECT,
  fixture,
  type Harness,
  invocationAnswer,
  type Json,
  PROJECT,
  pause,
  startHarness,
} from './harness.ts';

/** The ledger a suite runs against: its environment, and how to clean it up. */
export interface StoreEnv {
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MISSING_PROJECT = 'p-missing';
const FLAKY_PROJECT = 'p-flaky';
const ALLOWED = [PROJECT, FIXTURE_PROJECT, MISSING_PROJECT, FLAKY_PROJECT].join(',');
const LONG_MS = 600_000;

type Invoke = (event: unknown) => Promise<InvokeResult>;

/**
 * Declares the lifecycle suite for one store. `makeEnv` is called for every platform the suite starts
 * and must give it a fresh, empty ledger.
 */
export function describeLifecycle(storeName: string, makeEnv: () => Promise<StoreEnv>): void {
  describe(`the run lifecycle through the built functions (${storeName} ledger)`, () => {
    let bundles: BuiltBundles | undefined;
    let store: StoreEnv | undefined;
    let harness: Harness | undefined;
    let secondExecute: Invoke | undefined;
    const h = (): Harness => {
      if (harness === undefined) throw new Error('the platform did not start');
      return harness;
    };
    const nb = (name: string) => `lifecycle/${name}.ipynb`;

    before(async () => {
      bundles = await buildBundles();
      store = await makeEnv();
      harness = await startHarness({
        distDir: bundles.distDir,
        env: { ...store.env, ALLOWED_PROJECTS: ALLOWED },
        emulator: { missingProjects: [MISSING_PROJECT] },
        queue: { cutoffMs: 50, visibilityMs: 300, maxReceiveCount: 50 },
      });
    });

    after(async () => {
      await harness?.close();
      await store?.close();
      bundles?.remove();
    });

    /** Starts a run over HTTP and returns its public record (asserting the 202). */
    async function start(body: Record<string, unknown>, headers: Record<string, string> = {}) {
      const answer = await h().execute({ projectId: PROJECT, ...body }, headers);
      assert.equal(answer.status, 202, answer.text);
      assert.match(answer.json?.runId, UUID);
      return answer.json as Json;
    }

    /** The run was reported finished exactly once, even after more sweeps. */
    async function assertReportedOnce(runId: string, status: string) {
      await eventually(`"run finished" of ${runId}`, () => h().logs.finishedCount(runId) >= 1);
      await h().platform.tick();
      await h().platform.tick();
      const lines = h().logs.lines('run finished', runId);
      assert.equal(lines.length, 1, `run ${runId} reported ${lines.length} times`);
      const line = lines[0] as Json;
      assert.equal(line.status, status);
      assert.equal(line.run.runId, runId);
      assert.equal(line.run.status, status);
      assert.ok(typeof line.projectId === 'string' && typeof line.notebookId === 'string');
    }

    /** The runId the functions logged when they claimed a run matching `where`. */
    async function claimedRunId(where: (line: Record<string, unknown>) => boolean): Promise<string> {
      const line = await eventually('the "run claimed" line', () =>
        h().logs.lines('run claimed').find(where),
      );
      return line.runId as string;
    }

    const executeCount = (projectId = PROJECT) => h().executeRequests(projectId).length;

    describe('every status', () => {
      it('a notebook that ends OK becomes SUCCEEDED and is reported once', async () => {
        const notebookId = nb('succeeds');
        h().emulator.plan({ notebookId, outcome: 'OK', durationMs: 150 });
        const started = await start({ notebookId });
        assert.equal(started.status, 'RUNNING');
        assert.equal(started.trigger, 'http');
        assert.equal(typeof started.operationId, 'string');
        await h().waitForStatus(started.runId, 'SUCCEEDED');
        const record = (await h().check(started.runId)).json as Json;
        assert.equal(record.status, 'SUCCEEDED');
        assert.equal(record.executionStatus, 'OK');
        assert.equal(record.operationId, started.operationId);
        assert.ok(record.finishedAt >= record.createdAt);
        assert.equal(record.error, undefined);
        assert.equal(h().operationsOf(notebookId).length, 1);
        await assertReportedOnce(started.runId, 'SUCCEEDED');
      });

      it('a notebook that ends with executionStatus ERROR becomes FAILED', async () => {
        const notebookId = nb('execution-error');
        h().emulator.plan({ notebookId, outcome: 'ERROR', durationMs: 150 });
        const started = await start({ notebookId });
        await h().waitForStatus(started.runId, 'FAILED');
        const record = (await h().check(started.runId)).json as Json;
        assert.equal(record.status, 'FAILED');
        assert.equal(record.executionStatus, 'ERROR');
        assert.equal(typeof record.error?.code, 'string');
        await assertReportedOnce(started.runId, 'FAILED');
      });

      it('an operation that ends with an error becomes FAILED with the error passed on', async () => {
        const notebookId = nb('operation-error');
        h().emulator.plan({ notebookId, outcome: 'OPERATION_ERROR', durationMs: 150 });
        const started = await start({ notebookId });
        await h().waitForStatus(started.runId, 'FAILED');
        const record = (await h().check(started.runId)).json as Json;
        assert.equal(record.status, 'FAILED');
        assert.equal(record.error?.code, 13);
        assert.match(record.error?.message, /internal error/);
        await assertReportedOnce(started.runId, 'FAILED');
      });

      it('a run cancelled on request becomes CANCELLED once the operation is done', async () => {
        const notebookId = nb('user-cancel');
        h().emulator.plan({ notebookId, durationMs: LONG_MS });
        const started = await start({ notebookId });
        const cancelled = await h().request('POST', '/cancel', { body: { runId: started.runId } });
        assert.equal(cancelled.status, 202, cancelled.text);
        assert.equal(cancelled.json?.runId, started.runId);
        assert.equal(cancelled.json?.cancelReason, 'user');
        assert.equal(typeof cancelled.json?.cancelRequestedAt, 'string');
        await h().waitForStatus(started.runId, 'CANCELLED');
        const record = (await h().check(started.runId)).json as Json;
        assert.equal(record.status, 'CANCELLED');
        assert.equal(record.executionStatus, 'ABORTED');
        const [operation] = h().operationsOf(notebookId);
        assert.equal(operation?.cancelled, true);
        assert.equal(operation?.done, true);
        await assertReportedOnce(started.runId, 'CANCELLED');
      });

      it('a run past its deadline becomes TIMED_OUT and its operation is cancelled', async () => {
        const notebookId = nb('deadline');
        h().emulator.plan({ notebookId, durationMs: LONG_MS });
        const started = await start({ notebookId, timeoutSeconds: 1 });
        assert.equal(Date.parse(started.deadline) - Date.parse(started.createdAt), 1000);
        await h().waitForStatus(started.runId, 'TIMED_OUT');
        const record = (await h().check(started.runId)).json as Json;
        assert.equal(record.status, 'TIMED_OUT');
        assert.equal(record.cancelReason, 'deadline');
        assert.equal(record.error?.code, 'DEADLINE_EXCEEDED');
        const [operation] = h().operationsOf(notebookId);
        assert.equal(operation?.cancelled, true);
        // Later sweeps follow the operation until it is done, without reporting the run again.
        await eventually('the timed-out operation to be done', async () => {
          await h().platform.tick();
          return h().operationsOf(notebookId)[0]?.done;
        });
        await assertReportedOnce(started.runId, 'TIMED_OUT');
      });

      it('a start the API rejects leaves a FAILED run and answers 502 with what the API said', async () => {
        const before = executeCount(MISSING_PROJECT);
        const answer = await h().execute({ projectId: MISSING_PROJECT, notebookId: nb('rejected') });
        assert.equal(answer.status, 502, answer.text);
        const error = answer.json?.error;
        assert.equal(error.code, 'API_ERROR');
        assert.equal(error.api.httpStatus, 404);
        assert.equal(error.api.rpcCode, 5);
        assert.equal(error.api.apiMessage, `Project ${MISSING_PROJECT} not found`);
        assert.match(error.message, /not found/);
        const run = answer.json?.run;
        assert.equal(run.status, 'FAILED');
        assert.equal(run.error.code, 5);
        assert.equal(executeCount(MISSING_PROJECT) - before, 1, 'a 4xx is not retried');
        const record = (await h().check(run.runId)).json as Json;
        assert.equal(record.status, 'FAILED');
        assert.equal(record.error.code, 5);
        await assertReportedOnce(run.runId, 'FAILED');
      });
    });

    describe('every entry point', () => {
      it('execute over HTTP with a JSON body (http-url-json.json) starts the run once per Idempotency-Key', async () => {
        const event = fixture('http-url-json.json');
        const first = invocationAnswer(await h().platform.invoke('execute', event));
        assert.equal(first.statusCode, 202);
        const run = first.json;
        assert.equal(run.projectId, FIXTURE_PROJECT);
        assert.equal(run.notebookId, '/home/jupyter/datasphere/project/daily_report.ipynb');
        assert.equal(run.trigger, 'http');
        assert.equal(Date.parse(run.deadline) - Date.parse(run.createdAt), 3600_000);
        const again = invocationAnswer(await h().platform.invoke('execute', event));
        assert.equal(again.statusCode, 202);
        assert.equal(again.json.runId, run.runId);
        assert.equal(again.headers['Idempotent-Replayed'], 'true');
        const operations = h()
          .emulator.operations()
          .filter((op) => op.id === run.operationId);
        assert.equal(operations.length, 1);
        assert.match(operations[0]?.idempotencyKey ?? '', UUID, 'Execute carries a derived UUID key');
        await h().waitForStatus(run.runId, 'SUCCEEDED');
      });

      it('execute over HTTP with a base64 form body (http-url-base64.json) activates the image and starts', async () => {
        const event = fixture('http-url-base64.json');
        const answer = invocationAnswer(await h().platform.invoke('execute', event));
        assert.equal(answer.statusCode, 202, JSON.stringify(answer.json));
        assert.equal(answer.json.notebookId, '/home/jupyter/datasphere/project/score_batch.ipynb');
        const activate = h().emulator.requests.filter((r) => r.path === '/datasphere/v2/docker/activate');
        assert.equal(activate.length, 1);
        assert.equal(activate[0]?.status, 200);
        await h().waitForStatus(answer.json.runId, 'SUCCEEDED');
      });

      it('execute from a timer with a payload (timer.json) starts the run once per event', async () => {
        const event = fixture('timer.json');
        const result = await h().platform.invoke('execute', event);
        assert.deepEqual(result, { ok: true, result: { messages: 1, done: 1, dropped: 0 } });
        const runId = await claimedRunId((line) => line.trigger === 'timer');
        const record = (await h().check(runId)).json as Json;
        assert.equal(record.trigger, 'timer');
        assert.equal(record.projectId, FIXTURE_PROJECT);
        assert.equal(Date.parse(record.deadline) - Date.parse(record.createdAt), 7200_000);
        const operations = h()
          .emulator.operations()
          .filter((op) => op.id === record.operationId);
        assert.equal(operations.length, 1);
        // The same timer event again (a retried trigger) starts nothing.
        const executes = executeCount(FIXTURE_PROJECT);
        assert.equal((await h().platform.invoke('execute', event)).ok, true);
        assert.equal(executeCount(FIXTURE_PROJECT), executes);
        await h().waitForStatus(runId, 'SUCCEEDED');
      });

      it('execute from a timer without a payload (timer-no-payload.json) ticks the jobs and starts nothing here', async () => {
        const before = h().emulator.requests.length;
        const result = await h().platform.invoke('execute', fixture('timer-no-payload.json'));
        assert.deepEqual(result, { ok: true, result: { messages: 1, done: 1, dropped: 0 } });
        assert.equal(h().emulator.requests.length, before, 'the repository jobs.yaml has no jobs');
      });

      it('execute from a Message Queue batch (ymq.json) starts one run per message', async () => {
        const event = fixture('ymq.json');
        const result = await h().platform.invoke('execute', event);
        assert.deepEqual(result, { ok: true, result: { messages: 2, done: 2, dropped: 0 } });
        const trainId = await claimedRunId(
          (line) => line.trigger === 'queue' && String(line.notebookId).endsWith('train_model.ipynb'),
        );
        const scoreId = await claimedRunId(
          (line) => line.trigger === 'queue' && String(line.notebookId).endsWith('score_batch.ipynb'),
        );
        assert.notEqual(trainId, scoreId);
        // The message's idempotencyKey is the same key as an HTTP Idempotency-Key: the same run.
        const viaHttp = await h().request('POST', '/execute', {
          headers: { 'Idempotency-Key': 'retrain-2025-06-02' },
          body: {
            projectId: FIXTURE_PROJECT,
            notebookId: '/home/jupyter/datasphere/project/train_model.ipynb',
            inputVariables: { EPOCHS: 5 },
          },
        });
        assert.equal(viaHttp.status, 202, viaHttp.text);
        assert.equal(viaHttp.json?.runId, trainId);
        assert.equal(viaHttp.headers.get('idempotent-replayed'), 'true');
        assert.equal(h().operationsOf('/home/jupyter/datasphere/project/train_model.ipynb').length, 1);
        await h().waitForStatus(trainId, 'SUCCEEDED');
        await h().waitForStatus(scoreId, 'SUCCEEDED');
      });

      it('check from its timer (timer-no-payload.json) sweeps the due runs and finishes them', async () => {
        const notebookId = nb('sweep');
        h().emulator.plan({ notebookId, durationMs: 50 });
        const started = await start({ notebookId });
        await eventually('the operation to be done', () => h().operationsOf(notebookId)[0]?.done);
        const result = await h().platform.invoke('check', fixture('timer-no-payload.json'));
        assert.equal(result.ok, true, result.errorMessage);
        const summary = result.result as Record<string, number>;
        assert.ok((summary.due ?? 0) >= 1 && (summary.finished ?? 0) >= 1, JSON.stringify(summary));
        await eventually(
          'the sweep to log SUCCEEDED',
          () => h().logs.statusOf(started.runId) === 'SUCCEEDED',
        );
        const reporters = h()
          .logs.entries.filter((e) => e.json?.runId === started.runId && e.json?.msg === 'run finished')
          .map((e) => e.source);
        assert.deepEqual(reporters, ['check']);
      });

      it('check over HTTP answers by runId in the query, by operationId in the query and by the gateway path', async () => {
        const notebookId = nb('http-check');
        h().emulator.plan({ notebookId, durationMs: LONG_MS });
        const viaGateway = await h().request('POST', '/runs', { body: { projectId: PROJECT, notebookId } });
        assert.equal(viaGateway.status, 202, viaGateway.text);
        const { runId, operationId } = viaGateway.json as Record<string, string>;
        const answers = [
          await h().request('GET', `/check?runId=${runId}`),
          await h().request('GET', `/check?operationId=${operationId}`),
          await h().request('GET', `/runs/${runId}`),
        ];
        for (const answer of answers) {
          assert.equal(answer.status, 200, answer.text);
          assert.equal(answer.json?.runId, runId);
          assert.equal(answer.json?.operationId, operationId);
          assert.equal(answer.json?.status, 'RUNNING');
        }
        // A status call refreshes an unfinished run from the Operation API.
        h().emulator.finish(operationId as string, 'OK');
        const refreshed = await h().request('GET', `/runs/${runId}`);
        assert.equal(refreshed.json?.status, 'SUCCEEDED', refreshed.text);
        await assertReportedOnce(runId as string, 'SUCCEEDED');
      });

      it('cancel answers over HTTP by query, gateway path and body, and from a queue message', async () => {
        const names = ['cancel-query', 'cancel-path', 'cancel-body', 'cancel-queue'];
        const runs: Json[] = [];
        for (const name of names) {
          h().emulator.plan({ notebookId: nb(name), durationMs: LONG_MS });
          runs.push(await start({ notebookId: nb(name) }));
        }
        const [byQuery, byPath, byBody, byQueue] = runs.map((run) => run.runId as string) as [
          string,
          string,
          string,
          string,
        ];
        const answers = [
          await h().request('POST', `/cancel?runId=${byQuery}`),
          await h().request('POST', `/runs/${byPath}/cancel`),
          await h().request('POST', '/cancel', { body: { runId: byBody } }),
        ];
        for (const [index, answer] of answers.entries()) {
          assert.equal(answer.status, 202, answer.text);
          assert.equal(answer.json?.runId, runs[index]?.runId);
          assert.equal(answer.json?.cancelReason, 'user');
        }
        h().platform.send('cancel', JSON.stringify({ runId: byQueue }));
        await h().platform.drainQueues(15_000);
        await eventually('the queue cancel to be handled', () =>
          h()
            .logs.lines('cancel handled')
            .some((line) => line.runId === byQueue),
        );
        for (const runId of [byQuery, byPath, byBody, byQueue]) {
          await h().waitForStatus(runId, 'CANCELLED');
          await assertReportedOnce(runId, 'CANCELLED');
        }
        for (const name of names) assert.equal(h().operationsOf(nb(name))[0]?.cancelled, true, name);
      });
    });

    describe('duplicate deliveries', () => {
      it('the same Idempotency-Key sent twice answers the same run and starts one operation', async () => {
        const notebookId = nb('dup-sequential');
        const before = executeCount();
        const first = await start({ notebookId }, { 'Idempotency-Key': `seq-${storeName}` });
        const second = await h().execute(
          { projectId: PROJECT, notebookId },
          { 'Idempotency-Key': `seq-${storeName}` },
        );
        assert.equal(second.status, 202);
        assert.equal(second.json?.runId, first.runId);
        assert.equal(second.headers.get('idempotent-replayed'), 'true');
        assert.equal(h().operationsOf(notebookId).length, 1);
        assert.equal(executeCount() - before, 1);
      });

      it('ten concurrent calls with one Idempotency-Key, over two execute instances, start one run', async () => {
        secondExecute ??= await h().platform.addInstance('execute');
        const other = secondExecute;
        const notebookId = nb('dup-concurrent');
        const body = { projectId: PROJECT, notebookId };
        const key = `concurrent-${storeName}`;
        const before = executeCount();
        const calls = Array.from({ length: 10 }, async (_, index) => {
          if (index % 2 === 0) {
            const answer = await h().execute(body, { 'Idempotency-Key': key });
            return { status: answer.status, runId: answer.json?.runId as string };
          }
          const event = httpEvent({
            method: 'POST',
            url: '/execute',
            headers: { 'content-type': 'application/json', 'idempotency-key': key },
            body: Buffer.from(JSON.stringify(body)),
          });
          const answer = invocationAnswer(await other(event));
          return { status: answer.statusCode, runId: answer.json.runId as string };
        });
        const answers = await Promise.all(calls);
        assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([202]));
        assert.equal(new Set(answers.map((a) => a.runId)).size, 1);
        assert.equal(h().operationsOf(notebookId).length, 1);
        assert.equal(executeCount() - before, 1);
      });

      it('the same timer event delivered twice, in turn and at once, starts one run', async () => {
        secondExecute ??= await h().platform.addInstance('execute');
        const other = secondExecute;
        const notebookId = nb('dup-timer');
        const event = timerEvent({
          eventId: `a1sdup${storeName}timer`,
          payload: JSON.stringify({ projectId: PROJECT, notebookId }),
        });
        const before = executeCount();
        for (const result of [await h().platform.invoke('execute', event), await other(event)]) {
          assert.equal(result.ok, true, result.errorMessage);
        }
        const together = await Promise.all([
          h().platform.invoke('execute', event),
          other(event),
          h().platform.invoke('execute', event),
        ]);
        for (const result of together) assert.equal(result.ok, true, result.errorMessage);
        assert.equal(h().operationsOf(notebookId).length, 1);
        assert.equal(executeCount() - before, 1);
      });

      it('the same queue message delivered twice, in turn and at once, starts one run', async () => {
        secondExecute ??= await h().platform.addInstance('execute');
        const other = secondExecute;
        const notebookId = nb('dup-queue');
        const event = queueEvent([
          { messageId: `dup-${storeName}-message`, body: JSON.stringify({ projectId: PROJECT, notebookId }) },
        ]);
        const before = executeCount();
        assert.equal((await h().platform.invoke('execute', event)).ok, true);
        assert.equal((await h().platform.invoke('execute', event)).ok, true);
        const together = await Promise.all([h().platform.invoke('execute', event), other(event)]);
        for (const result of together) assert.equal(result.ok, true, result.errorMessage);
        assert.equal(h().operationsOf(notebookId).length, 1);
        assert.equal(executeCount() - before, 1);
      });

      it('a queue batch that failed transiently is redelivered, and each message starts exactly one operation', async () => {
        const good = [nb('redelivered-a'), nb('redelivered-b')];
        const flaky = nb('redelivered-flaky');
        const before = executeCount();
        // Every Execute into the flaky project answers 503 (Retry-After 0: no long waits) until cleared.
        h().emulator.inject({
          kind: 'status',
          status: 503,
          method: 'POST',
          path: `/projects/${FLAKY_PROJECT}:execute`,
          times: Number.POSITIVE_INFINITY,
          retryAfterSeconds: 0,
        });
        const redeliveries = () =>
          h().logs.entries.filter(
            (e) =>
              e.source === 'platform' &&
              /queue trigger execute: .*batch of 3 will be redelivered/.test(e.text),
          ).length;
        h().platform.send('execute', JSON.stringify({ projectId: PROJECT, notebookId: good[0] }));
        h().platform.send('execute', JSON.stringify({ projectId: FLAKY_PROJECT, notebookId: flaky }));
        h().platform.send('execute', JSON.stringify({ projectId: PROJECT, notebookId: good[1] }));
        await eventually('the batch to be redelivered twice', () => redeliveries() >= 2, {
          timeoutMs: 30_000,
        });
        // The good messages started once; their redeliveries found them in the ledger.
        for (const notebookId of good) assert.equal(h().operationsOf(notebookId).length, 1, notebookId);
        assert.equal(executeCount() - before, 2);
        assert.equal(h().operationsOf(flaky).length, 0);
        h().emulator.clearFaults();
        await h().platform.drainQueues(30_000);
        for (const notebookId of [...good, flaky])
          assert.equal(h().operationsOf(notebookId).length, 1, notebookId);
        assert.equal(executeCount() - before, 2);
        assert.deepEqual(h().platform.deadLetters, []);
        const claims = h()
          .logs.lines('run claimed')
          .filter((line) => [...good, flaky].includes(line.notebookId as string));
        assert.equal(claims.length, 3, 'each message was claimed once');
      });
    });

    describe('injected API faults', () => {
      it('Execute answering 429 with Retry-After is retried after the wait and starts one operation', async () => {
        const notebookId = nb('fault-429');
        const before = executeCount();
        h().emulator.inject({
          kind: 'status',
          status: 429,
          method: 'POST',
          path: `/projects/${PROJECT}:execute`,
          retryAfterSeconds: 1,
        });
        const started = await start({ notebookId });
        assert.equal(started.status, 'RUNNING');
        const requests = h().executeRequests(PROJECT).slice(before);
        assert.deepEqual(
          requests.map((r) => r.status),
          [429, 200],
        );
        // Retry-After (1 s) is honoured; a lower bound, so a slow machine cannot fail it.
        assert.ok((requests[1]?.at ?? 0) - (requests[0]?.at ?? 0) >= 900);
        assert.equal(requests[0]?.idempotencyKey, requests[1]?.idempotencyKey);
        assert.equal(h().operationsOf(notebookId).length, 1);
      });

      it('Execute answering 503 twice is retried and starts one operation', async () => {
        const notebookId = nb('fault-503');
        const before = executeCount();
        h().emulator.inject({
          kind: 'status',
          status: 503,
          method: 'POST',
          path: `/projects/${PROJECT}:execute`,
          times: 2,
        });
        const started = await start({ notebookId });
        assert.equal(started.status, 'RUNNING');
        assert.deepEqual(
          h()
            .executeRequests(PROJECT)
            .slice(before)
            .map((r) => r.status),
          [503, 503, 200],
        );
        assert.equal(h().operationsOf(notebookId).length, 1);
      });

      it('Execute whose connection drops is retried and starts one operation', async () => {
        const notebookId = nb('fault-drop');
        const before = executeCount();
        h().emulator.inject({ kind: 'drop', method: 'POST', path: `/projects/${PROJECT}:execute` });
        const started = await start({ notebookId });
        assert.equal(started.status, 'RUNNING');
        assert.deepEqual(
          h()
            .executeRequests(PROJECT)
            .slice(before)
            .map((r) => r.status),
          [0, 200],
        );
        assert.equal(h().operationsOf(notebookId).length, 1);
      });

      it('Execute answering 403 leaves a FAILED run, answers 502 and is not retried', async () => {
        const notebookId = nb('fault-403');
        const before = executeCount();
        h().emulator.inject({
          kind: 'status',
          status: 403,
          method: 'POST',
          path: `/projects/${PROJECT}:execute`,
        });
        const key = `forbidden-${storeName}`;
        const answer = await h().execute({ projectId: PROJECT, notebookId }, { 'Idempotency-Key': key });
        assert.equal(answer.status, 502, answer.text);
        assert.equal(answer.json?.error.code, 'API_ERROR');
        assert.equal(answer.json?.error.api.httpStatus, 403);
        assert.equal(answer.json?.error.api.rpcCode, 7);
        assert.equal(answer.json?.error.api.apiMessage, 'Injected fault: HTTP 403');
        assert.equal(answer.json?.run.status, 'FAILED');
        assert.equal(executeCount() - before, 1, 'a 403 is sent once');
        const runId = answer.json?.run.runId as string;
        const record = (await h().check(runId)).json as Json;
        assert.equal(record.status, 'FAILED');
        assert.equal(record.error.code, 7);
        // The same key again answers the failed run and sends nothing.
        const again = await h().execute({ projectId: PROJECT, notebookId }, { 'Idempotency-Key': key });
        assert.equal(again.json?.runId ?? again.json?.run?.runId, runId);
        assert.equal(executeCount() - before, 1);
        assert.equal(h().operationsOf(notebookId).length, 0);
        await assertReportedOnce(runId, 'FAILED');
      });

      describe('with an Operation API that answers 404 for the first Gets of each operation', () => {
        let store404: StoreEnv | undefined;
        let lagging: Harness | undefined;
        before(async () => {
          store404 = await makeEnv();
          lagging = await startHarness({
            distDir: bundles?.distDir ?? '',
            env: { ...store404.env, ALLOWED_PROJECTS: ALLOWED },
            emulator: { notFoundGetsPerOperation: 2, durationMs: 100 },
          });
        });
        after(async () => {
          await lagging?.close();
          await store404?.close();
        });

        it('the run stays RUNNING through the early 404s and then SUCCEEDS', async () => {
          const l = lagging as Harness;
          const started = await l.execute({ projectId: PROJECT, notebookId: nb('early-404') });
          assert.equal(started.status, 202, started.text);
          const { runId, operationId } = started.json as Record<string, string>;
          await eventually('the operation to be done', () => l.emulator.operations()[0]?.done);
          const gets = () =>
            l.emulator.requests.filter((r) => r.method === 'GET' && r.path === `/operations/${operationId}`);
          await l.platform.tick();
          assert.deepEqual(
            gets().map((r) => r.status),
            [404],
          );
          const during = await l.check(runId as string);
          assert.equal(during.json?.status, 'RUNNING', during.text);
          assert.deepEqual(
            gets().map((r) => r.status),
            [404, 404],
          );
          await l.waitForStatus(runId as string, 'SUCCEEDED');
          assert.deepEqual(
            gets().map((r) => r.status),
            [404, 404, 200],
          );
          const statuses = l.logs.lines('run status changed', runId).map((line) => line.status);
          assert.deepEqual(statuses, ['RUNNING', 'SUCCEEDED']);
          assert.equal(l.logs.finishedCount(runId as string), 1);
        });
      });
    });

    describe('overlapping sweeps', () => {
      it('two check instances sweeping twenty finished runs at once report each ending exactly once', async () => {
        const second = await h().platform.addInstance('check');
        const notebooks = Array.from({ length: 20 }, (_, i) => nb(`overlap-${i}`));
        for (const notebookId of notebooks) h().emulator.plan({ notebookId, durationMs: 50 });
        const runs = await Promise.all(notebooks.map((notebookId) => start({ notebookId })));
        const runIds = runs.map((run) => run.runId as string);
        await eventually('every operation to be done', () =>
          notebooks.every((notebookId) => h().operationsOf(notebookId)[0]?.done === true),
        );
        const sweepBoth = async () => {
          const [a, b] = await Promise.all([
            h().platform.invoke('check', timerEvent()),
            second(timerEvent()),
          ]);
          assert.equal(a.ok, true, a.errorMessage);
          assert.equal(b.ok, true, b.errorMessage);
        };
        await eventually(
          'every run to be reported finished',
          async () => {
            await sweepBoth();
            return runIds.every((runId) => h().logs.finishedCount(runId) >= 1);
          },
          { intervalMs: 20 },
        );
        await sweepBoth();
        await sweepBoth();
        // Log lines travel through pipes: give a late duplicate a moment to arrive before counting.
        await pause(100);
        for (const runId of runIds) {
          const lines = h().logs.entries.filter(
            (e) => e.json?.msg === 'run finished' && e.json.runId === runId,
          );
          assert.equal(lines.length, 1, `run ${runId} reported ${lines.length} times`);
          // The platform numbers extra instances across functions: check, check#2, check#3...
          assert.match(lines[0]?.source ?? '', /^check(#\d+)?$/);
        }
      });
    });

    it('no run of this suite was reported finished twice, and nothing failed with an internal error', () => {
      const counts = new Map<string, number>();
      for (const line of h().logs.lines('run finished')) {
        const runId = line.runId as string;
        counts.set(runId, (counts.get(runId) ?? 0) + 1);
      }
      assert.ok(counts.size >= 20, `only ${counts.size} runs finished`);
      for (const [runId, count] of counts) assert.equal(count, 1, `run ${runId} reported ${count} times`);
      const internal = h().logs.entries.filter(
        (e) => (e.json?.error as { code?: string } | undefined)?.code === 'INTERNAL',
      );
      assert.deepEqual(
        internal.map((e) => e.text),
        [],
      );
    });

    it('the functions wrote only JSON log lines, nothing to stderr (a sweep of twenty runs included)', () => {
      // Cloud Logging parses one JSON line per event; anything else is an unstructured, level-less entry.
      const stray = h().logs.entries.filter(
        (e) =>
          ['execute', 'check', 'cancel'].includes(e.source.replace(/(#\d+)?!?$/, '')) &&
          (e.source.endsWith('!') || e.json === undefined),
      );
      assert.deepEqual(
        stray.map((e) => `${e.source}: ${e.text}`),
        [],
      );
    });
  });
}
