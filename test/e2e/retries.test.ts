/**
 * Retries of failed runs (issue #13 item 1) on the BUILT bundles, on both stores: a run that fails
 * twice and succeeds on its third attempt (keys, links, reports), two and three check processes
 * sweeping at once when a retry is due, a check process killed (SIGKILL) in the middle of a retry's
 * Execute, a cancel while a retry waits, and a start the API rejects with a 4xx. The functions' clock
 * is moved forward (support/clock-control.ts) instead of waiting for retry delays.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { attemptDedupeKey } from '../../shared/core/retry-plan.ts';
import { executeKeyFor, runIdFor } from '../../shared/core/run-identity.ts';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { eventually, type Json, PROJECT, pause } from './support/harness.ts';
import { sweepKilledMidExecute } from './support/kill-mid-call.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { STORE_NAMES } from './support/stores.ts';

const LEASE_SECONDS = 10;
const MISSING_PROJECT = 'p-e2e-missing';
const OVERLAP_ROUNDS = 5;
const KILL_ROUNDS = 3;

const bundles = bundlesForTestFile();

for (const storeName of STORE_NAMES) {
  describe(`retries on the built bundles (${storeName} ledger)`, () => {
    const {
      harness: h,
      store,
      clock,
      webhook,
      read,
      sweep,
    } = platformOnStore({
      bundles,
      store: storeName,
      dirPrefix: 'ds-orch-retry-',
      movableClock: true,
      webhook: true,
      env: {
        ALLOWED_PROJECTS: `${PROJECT},${MISSING_PROJECT}`,
        START_RECOVERY_SECONDS: String(LEASE_SECONDS),
      },
      emulator: { missingProjects: [MISSING_PROJECT] },
    });
    const advance = (seconds: number) => clock().advance(seconds * 1000);

    /** Starts a run with `retry` over HTTP; returns the first attempt's runId. */
    async function startRetried(key: string, notebookId: string, retry: Json): Promise<string> {
      const answer = await h().execute({ projectId: PROJECT, notebookId, retry }, { 'Idempotency-Key': key });
      assert.equal(answer.status, 202, answer.text);
      assert.equal(answer.json?.runId, runIdFor(`key:${key}`));
      return answer.json?.runId as string;
    }

    /** Sweeps until the attempt `runId` has ended (its line logged). */
    async function untilEnded(runId: string, msg = 'run attempt failed; retrying'): Promise<void> {
      await eventually(
        `run ${runId}: "${msg}"`,
        async () => {
          if (h().logs.lines(msg, runId).length > 0) return true;
          await sweep();
          return h().logs.lines(msg, runId).length > 0;
        },
        { describe: () => h().logs.tail() },
      );
    }

    it('a run that fails twice and then succeeds: three attempts, three keys, linked both ways, one report', async () => {
      const notebookId = `retry/three-${storeName}.ipynb`;
      const key = `${storeName}-three`;
      h().emulator.plan({ notebookId, outcome: 'ERROR', durationMs: 100 });
      const first = await startRetried(key, notebookId, {
        attempts: 3,
        delaySeconds: 30,
        backoff: 2,
        on: ['FAILED'],
      });
      const second = runIdFor(attemptDedupeKey(`key:${key}`, 2));
      const third = runIdFor(attemptDedupeKey(`key:${key}`, 3));
      await untilEnded(first);
      assert.ok((await read(first)).retryAt);
      advance(20);
      await sweep();
      assert.equal(h().operationsOf(notebookId).length, 1, 'not before its delay (30 s)');
      advance(11);
      await sweep();
      assert.equal(h().operationsOf(notebookId).length, 2);
      await untilEnded(second);
      h().emulator.plan({ notebookId, outcome: 'OK', durationMs: 100 });
      advance(61); // 30 s × 2
      await sweep();
      await untilEnded(third, 'run finished');
      // Later sweeps report nothing again.
      for (let i = 0; i < 3; i++) {
        advance(130);
        await sweep();
      }
      await pause(100);

      const operations = h().operationsOf(notebookId);
      assert.equal(operations.length, 3);
      assert.deepEqual(
        operations.map((op) => op.idempotencyKey),
        [`key:${key}`, attemptDedupeKey(`key:${key}`, 2), attemptDedupeKey(`key:${key}`, 3)].map(
          executeKeyFor,
        ),
      );
      const [r1, r2, r3] = await Promise.all([read(first), read(second), read(third)]);
      assert.deepEqual([r1.status, r2.status, r3.status], ['FAILED', 'FAILED', 'SUCCEEDED']);
      assert.deepEqual([r1.attempt, r2.attempt, r3.attempt], [1, 2, 3]);
      assert.deepEqual(r2.attempts, [first]);
      assert.deepEqual(r3.attempts, [first, second]);
      assert.deepEqual([r1.retriedBy, r2.retriedBy, r3.retriedBy], [second, third, undefined]);
      assert.equal(Date.parse(r2.retryAt) - Date.parse(r2.finishedAt), 60_000, 'backoff 2: 30 s, then 60 s');
      assert.deepEqual(
        [first, second, third].map((runId) => h().logs.lines('run attempt failed; retrying', runId).length),
        [1, 1, 0],
      );
      assert.deepEqual(
        [first, second, third].map((runId) => h().logs.finishedCount(runId)),
        [0, 0, 1],
      );
      const reports = webhook().received;
      assert.deepEqual(
        reports
          .filter((r) => [first, second, third].includes(r.json?.run?.runId))
          .map((r) => [r.json?.type, r.json?.run?.runId, r.json?.run?.status]),
        [['run.finished', third, 'SUCCEEDED']],
      );
      for (const record of [r1, r2, r3]) assert.equal(record.nextCheckAt, undefined, 'out of the open index');
      const executes = h()
        .executeRequests(PROJECT)
        .filter((r) => operations.some((op) => op.idempotencyKey === r.idempotencyKey));
      const gets = h().emulator.requests.filter(
        (r) => r.method === 'GET' && operations.some((op) => r.path.endsWith(op.id)),
      );
      console.log(
        `[retry ${storeName}] 3 attempts: ${executes.length} Execute, ${gets.length} Operation.Get, ` +
          `versions ${r1.version}/${r2.version}/${r3.version}`,
      );
    });

    it(`two and three check processes sweeping at once when a retry is due start it once (${OVERLAP_ROUNDS} rounds)`, async () => {
      const sweepers = await Promise.all([h().spawn('check'), h().spawn('check')]);
      const summary: number[] = [];
      for (let round = 1; round <= OVERLAP_ROUNDS; round++) {
        const notebookId = `retry/overlap-${storeName}-${round}.ipynb`;
        const key = `${storeName}-overlap-${round}`;
        h().emulator.plan({ notebookId, outcome: 'ERROR', durationMs: 50 });
        const first = await startRetried(key, notebookId, { attempts: 2, delaySeconds: 30 });
        await untilEnded(first);
        advance(31);
        const racers = round % 2 === 0 ? sweepers : [...sweepers, undefined];
        const results = await Promise.all(
          racers.map((sweeper) => (sweeper === undefined ? sweep() : sweeper.invoke(timerEvent()))),
        );
        for (const result of results) assert.equal(result.ok, true, result.errorMessage);
        const second = runIdFor(attemptDedupeKey(`key:${key}`, 2));
        await eventually(
          'the retry to have its operation',
          async () => (await store().readRun(second))?.operationId !== undefined || undefined,
          { describe: () => h().logs.tail(40) },
        );
        summary.push(h().operationsOf(notebookId).length - 1);
        assert.equal(h().operationsOf(notebookId).length, 2, `round ${round}: one retry operation`);
        assert.equal(h().logs.lines('retry started', second).length, 1, `round ${round}: started once`);
        assert.equal((await read(first)).retriedBy, second);
      }
      console.log(
        `[retry ${storeName}] overlapping sweeps, retry operations per round: ${summary.join(' ')}`,
      );
    });

    it(`a check process killed (SIGKILL) mid-Execute of a retry: one retry run, one operation (${KILL_ROUNDS} rounds)`, async () => {
      const summary: string[] = [];
      for (let round = 1; round <= KILL_ROUNDS; round++) {
        const notebookId = `retry/kill-${storeName}-${round}.ipynb`;
        const key = `${storeName}-kill-${round}`;
        h().emulator.plan({ notebookId, outcome: 'ERROR', durationMs: 50 });
        const first = await startRetried(key, notebookId, { attempts: 2, delaySeconds: 30 });
        await untilEnded(first);
        h().emulator.plan({ notebookId, outcome: 'OK', durationMs: 600_000 });
        advance(31);
        const killed = await sweepKilledMidExecute(
          h(),
          'the retry Execute to reach the API',
          () => h().operationsOf(notebookId).length === 2,
        );
        assert.equal(killed.ok, false, 'killed before it answered');
        const second = runIdFor(attemptDedupeKey(`key:${key}`, 2));
        const claim = await read(second);
        assert.equal(claim.status, 'STARTING');
        assert.equal(claim.operationId, undefined, 'the ledger never learnt the operation');
        advance(LEASE_SECONDS + 1);
        await eventually('the retry to be re-driven', async () => {
          await sweep();
          return (await read(second)).status === 'RUNNING' || undefined;
        });
        const operations = h().operationsOf(notebookId);
        assert.equal(operations.length, 2, `round ${round}: the first attempt and one retry operation`);
        const retryKey = executeKeyFor(attemptDedupeKey(`key:${key}`, 2));
        const executes = h()
          .executeRequests(PROJECT)
          .filter((r) => r.idempotencyKey === retryKey);
        assert.equal(executes.length, 2, 're-driven once, with the same key');
        assert.equal((await read(second)).operationId, operations[1]?.id);
        assert.equal(await store().readRun(runIdFor(attemptDedupeKey(`key:${key}`, 3))), undefined);
        summary.push(`${operations.length - 1} retry op / ${executes.length} Execute`);
        h().emulator.finish(operations[1]?.id ?? '', 'OK');
      }
      console.log(`[retry ${storeName}] kill -9 mid retry start: ${summary.join('; ')}`);
    });

    it('a cancel while the retry waits stops the remaining attempts; the failed attempt is the outcome, reported once', async () => {
      const notebookId = `retry/cancel-${storeName}.ipynb`;
      h().emulator.plan({ notebookId, outcome: 'ERROR', durationMs: 50 });
      const first = await startRetried(`${storeName}-cancel`, notebookId, { attempts: 3, delaySeconds: 60 });
      await untilEnded(first);
      const cancel = await h().request('POST', '/cancel', { body: { runId: first } });
      assert.equal(cancel.status, 202, cancel.text);
      assert.equal(cancel.json?.status, 'FAILED');
      assert.equal(cancel.json?.cancelReason, 'user');
      for (let i = 0; i < 3; i++) {
        advance(130);
        await sweep();
      }
      await eventually('the report to arrive', () => webhook().about(first).length > 0);
      assert.equal(h().operationsOf(notebookId).length, 1, 'no more attempts');
      assert.equal(h().logs.finishedCount(first), 1);
      assert.equal(webhook().about(first).length, 1);
      const again = await h().request('POST', '/cancel', { body: { runId: first } });
      assert.equal(again.status, 409);
    });

    it('a start the API rejects with a 4xx is not retried', async () => {
      const answer = await h().execute(
        {
          projectId: MISSING_PROJECT,
          notebookId: 'retry/rejected.ipynb',
          retry: { attempts: 3, delaySeconds: 1 },
        },
        { 'Idempotency-Key': `${storeName}-rejected` },
      );
      assert.equal(answer.status, 502, answer.text);
      assert.equal(answer.json?.run?.status, 'FAILED');
      for (let i = 0; i < 3; i++) {
        advance(60);
        await sweep();
      }
      assert.equal(h().executeRequests(MISSING_PROJECT).length, 1);
      assert.equal((await read(answer.json?.run?.runId)).retryAt, undefined);
    });
  });
}
