/**
 * design.md §7: "A crash at any point never leaves a notebook running unwatched". The execute process
 * is killed (SIGKILL) while its Execute call is in flight: the operation exists in DataSphere, the
 * ledger holds only the STARTING claim. Then the run's deadline passes, or a cancel is requested,
 * before anyone learns the operation id. The sweep must re-drive the start with the same
 * Idempotency-Key, find the operation, cancel it and record the ending with the operationId, on both
 * stores. (Issue #9 item 1: START_RECOVERY_SECONDS=10, a 3 s Execute latency, timeoutSeconds 15.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { eventually, PROJECT } from './support/harness.ts';
import { startKilledMidCall } from './support/kill-mid-call.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { finalRecord } from './support/run-waits.ts';
import { STORE_NAMES } from './support/stores.ts';

const LEASE_SECONDS = 10;

const bundles = bundlesForTestFile();

for (const storeName of STORE_NAMES) {
  describe(`a start killed mid-Execute, then a deadline or a cancel (${storeName} ledger)`, () => {
    const { harness: h, clock } = platformOnStore({
      bundles,
      store: storeName,
      dirPrefix: 'ds-rel-start-',
      movableClock: true,
      env: { START_RECOVERY_SECONDS: String(LEASE_SECONDS) },
    });

    /**
     * Starts a run in a process of its own, kills it (SIGKILL) once Execute has reached the emulator
     * (the answer is held back 3 s), and returns the run and the operation it left behind.
     */
    async function killMidExecute(notebookId: string, timeoutSeconds: number) {
      h().emulator.plan({ notebookId, durationMs: 600_000 });
      return startKilledMidCall(h(), {
        body: { projectId: PROJECT, notebookId, timeoutSeconds },
        apiPath: `/projects/${PROJECT}:execute`,
        what: 'Execute to reach the API',
        operation: () => h().operationsOf(notebookId)[0],
        claimed: (line) => line.notebookId === notebookId,
      });
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
      clock().advance(20_000); // past the start lease (10 s) and the deadline (15 s)
      const record = await finalRecord(h(), runId);
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
      clock().advance((LEASE_SECONDS + 1) * 1000);
      const record = await finalRecord(h(), runId);
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
      clock().advance((LEASE_SECONDS + 1) * 1000);
      const cancel = await h().request('POST', '/cancel', { body: { runId } });
      assert.equal(cancel.status, 202, cancel.text);
      assert.notEqual(cancel.json?.error?.code, 'CANCELLED', 'the start outcome is unknown: not ended blind');
      const record = await finalRecord(h(), runId);
      assert.equal(record.status, 'CANCELLED', JSON.stringify(record));
      assert.equal(record.operationId, operation.id);
      const [after] = h().operationsOf(notebookId);
      assert.equal(after?.cancelled, true, 'the orphan was cancelled');
      assertOneOperation(notebookId, operation.idempotencyKey, 2);
    });
  });
}
