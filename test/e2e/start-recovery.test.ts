/**
 * design.md §7: "A crash at any point never leaves a notebook running unwatched". The execute process
 * is killed (SIGKILL) while its Execute call is in flight: the operation exists in DataSphere, the
 * ledger holds only the STARTING claim. Then the run's deadline passes, or a cancel is requested,
 * before anyone learns the operation id. The sweep must re-drive the start with the same
 * Idempotency-Key, find the operation, cancel it and record the ending with the operationId, on both
 * stores. (Issue #9 item 1: START_RECOVERY_SECONDS=10, a 3 s Execute latency, timeoutSeconds 15.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ClockControl, clockControl } from './support/clock-control.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  type Json,
  PROJECT,
  startHarness,
  tempDir,
} from './support/harness.ts';
import { closeStores, openTestStore, STORE_NAMES } from './support/stores.ts';

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
const LEASE_SECONDS = 10;

let bundles: BuiltBundles | undefined;
before(async () => {
  bundles = await buildBundles();
});
after(async () => {
  await closeStores();
  bundles?.remove();
});

for (const storeName of STORE_NAMES) {
  describe(`a start killed mid-Execute, then a deadline or a cancel (${storeName} ledger)`, () => {
    const dir = tempDir('ds-rel-start-');
    let harness: Harness | undefined;
    let clock: ClockControl | undefined;
    const h = (): Harness => {
      if (harness === undefined) throw new Error('the platform did not start');
      return harness;
    };

    before(async () => {
      clock = clockControl(dir.path);
      const store = await openTestStore(storeName, dir.path);
      harness = await startHarness({
        distDir: bundles?.distDir ?? '',
        env: {
          ...store.env,
          ...clock.env,
          ALLOWED_PROJECTS: PROJECT,
          START_RECOVERY_SECONDS: String(LEASE_SECONDS),
        },
      });
    });
    after(async () => {
      await harness?.close();
      dir.remove();
    });

    /**
     * Starts a run in a process of its own, kills it (SIGKILL) once Execute has reached the emulator
     * (the answer is held back 3 s), and returns the run and the operation it left behind.
     */
    async function killMidExecute(notebookId: string, timeoutSeconds: number) {
      h().emulator.plan({ notebookId, durationMs: 600_000 });
      h().emulator.inject({
        kind: 'latency',
        latencyMs: 3000,
        method: 'POST',
        path: `/projects/${PROJECT}:execute`,
      });
      const starter = await h().spawn('execute');
      const call = starter.invokeHttp('POST', '/execute', { projectId: PROJECT, notebookId, timeoutSeconds });
      const operation = await eventually('Execute to reach the API', () => h().operationsOf(notebookId)[0]);
      await starter.kill();
      assert.equal((await call).ok, false, 'the starter was killed before it answered');
      const claimed = await eventually('the "run claimed" line', () =>
        h()
          .logs.lines('run claimed')
          .find((line) => line.notebookId === notebookId),
      );
      const runId = claimed.runId as string;
      const record = (await h().check(runId)).json as Json;
      assert.equal(record.status, 'STARTING', JSON.stringify(record));
      assert.equal(record.operationId, undefined, 'the ledger never learnt the operation id');
      return { runId, operation };
    }

    async function sweepUntilFinal(runId: string): Promise<Json> {
      return eventually(
        `run ${runId} to end`,
        async () => {
          await h().platform.tick();
          const record = (await h().check(runId)).json as Json;
          return FINAL.has(record.status) ? record : undefined;
        },
        { describe: () => h().logs.tail() },
      );
    }

    /** Every Execute of this notebook carried the one Idempotency-Key of its operation. */
    function assertOneOperation(notebookId: string, idempotencyKey: string | undefined, executes: number) {
      const operations = h().operationsOf(notebookId);
      assert.equal(operations.length, 1, 'no second notebook run was started');
      const keys = h()
        .executeRequests(PROJECT)
        .filter((request) => request.idempotencyKey === idempotencyKey);
      assert.equal(keys.length, executes, 'the start was re-driven with the same Idempotency-Key');
    }

    it('past its deadline: the sweep re-drives Execute, cancels the operation it finds and records TIMED_OUT with its id', async () => {
      const notebookId = `recovery/deadline-${storeName}.ipynb`;
      const { runId, operation } = await killMidExecute(notebookId, 15);
      clock?.advance(20_000); // past the start lease (10 s) and the deadline (15 s)
      const record = await sweepUntilFinal(runId);
      assert.equal(record.status, 'TIMED_OUT', JSON.stringify(record));
      assert.equal(record.operationId, operation.id);
      assert.equal(record.cancelReason, 'deadline');
      assert.equal(h().operationsOf(notebookId)[0]?.cancelled, true, 'the orphan was cancelled');
      assertOneOperation(notebookId, operation.idempotencyKey, 2);
      await eventually('the cancelled operation to be done', async () => {
        await h().platform.tick();
        return h().operationsOf(notebookId)[0]?.done;
      });
      const reports = h().logs.lines('run finished', runId);
      assert.equal(reports.length, 1);
      assert.equal(reports[0]?.operationId, operation.id);
    });

    it('a cancel requested while the dead starter still holds the lease: the operation is found and cancelled', async () => {
      const notebookId = `recovery/cancel-held-${storeName}.ipynb`;
      const { runId, operation } = await killMidExecute(notebookId, 3600);
      const cancel = await h().request('POST', '/cancel', { body: { runId } });
      assert.equal(cancel.status, 202, cancel.text);
      clock?.advance((LEASE_SECONDS + 1) * 1000);
      const record = await sweepUntilFinal(runId);
      assert.equal(record.status, 'CANCELLED', JSON.stringify(record));
      assert.equal(record.operationId, operation.id);
      assert.equal(record.cancelReason, 'user');
      const [after] = h().operationsOf(notebookId);
      assert.equal(after?.cancelled, true, 'the orphan was cancelled');
      assert.equal(after?.done, true);
      assertOneOperation(notebookId, operation.idempotencyKey, 2);
      assert.equal(h().logs.finishedCount(runId), 1);
    });

    it('a cancel requested after the lease expired: not "cancelled before it started", the operation is cancelled', async () => {
      const notebookId = `recovery/cancel-expired-${storeName}.ipynb`;
      const { runId, operation } = await killMidExecute(notebookId, 3600);
      clock?.advance((LEASE_SECONDS + 1) * 1000);
      const cancel = await h().request('POST', '/cancel', { body: { runId } });
      assert.equal(cancel.status, 202, cancel.text);
      assert.notEqual(cancel.json?.error?.code, 'CANCELLED', 'the start outcome is unknown: not ended blind');
      const record = await sweepUntilFinal(runId);
      assert.equal(record.status, 'CANCELLED', JSON.stringify(record));
      assert.equal(record.operationId, operation.id);
      const [after] = h().operationsOf(notebookId);
      assert.equal(after?.cancelled, true, 'the orphan was cancelled');
      assertOneOperation(notebookId, operation.idempotencyKey, 2);
    });
  });
}
