/**
 * design.md §7: "Every ending is reported at least once, never lost, even when a function is killed
 * mid-sweep; a duplicate report after a crash carries the same deliveryId." A check process of the
 * BUILT bundle sweeps 60, then 80 finished runs with a (slow) webhook receiver and is killed with
 * SIGKILL in the middle; later sweeps (the clock moved past the report claim) must write the
 * "run finished" line and deliver the webhook for every run, on both stores. (Issue #9 item 4: before,
 * 4/60 lines were never written.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { eventually, type Json, PROJECT, pause } from './support/harness.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { operationsDone } from './support/run-waits.ts';
import { STORE_NAMES } from './support/stores.ts';
import { sweepUnderWay } from './support/sweep-process.ts';

const ROUNDS = [60, 80];
/** Past the claim a report's writer holds (120 s) and the due slack. */
const PAST_CLAIM_MS = 130_000;

const bundles = bundlesForTestFile();

for (const storeName of STORE_NAMES) {
  describe(`kill -9 of a check process mid-sweep (${storeName} ledger)`, () => {
    const {
      harness: h,
      webhook: hook,
      clock,
      sweep,
    } = platformOnStore({
      bundles,
      store: storeName,
      dirPrefix: 'ds-rel-report-',
      movableClock: true,
      // A slow receiver keeps deliveries in flight when the kill lands.
      webhook: { delayMs: 15 },
      emulator: { durationMs: 50 },
    });

    it(`every ending is logged and delivered at least once, duplicates with one deliveryId (${ROUNDS.join(' and ')} runs)`, async () => {
      const summary: string[] = [];
      for (const [round, count] of ROUNDS.entries()) {
        const runs: Json[] = [];
        for (let batch = 0; batch < count; batch += 10) {
          const answers = await Promise.all(
            Array.from({ length: Math.min(10, count - batch) }, (_, i) =>
              h().execute({ projectId: PROJECT, notebookId: `report/r${round}-${batch + i}.ipynb` }),
            ),
          );
          for (const answer of answers) {
            assert.equal(answer.status, 202, answer.text);
            runs.push(answer.json as Json);
          }
        }
        await operationsDone(h(), new Set(runs.map((run) => run.operationId as string)));

        // A sweep in a process of its own, killed once it has ended a quarter of the runs.
        const { sweeper, sweeping, ended } = await sweepUnderWay(h(), count / 4);
        await sweeper.kill();
        const killedResult = await sweeping;
        const killedLines = ended();

        // Later sweeps: the clock moves past any report claim the killed process held.
        await eventually(
          'every run to be reported and delivered',
          async () => {
            clock().advance(PAST_CLAIM_MS);
            await sweep();
            await pause(20);
            return runs.every(
              (run) => h().logs.finishedCount(run.runId) >= 1 && hook().about(run.runId).length >= 1,
            );
          },
          {
            timeoutMs: 60_000,
            describe: () =>
              `missing lines: ${runs.filter((r) => h().logs.finishedCount(r.runId) === 0).length}, ` +
              `missing deliveries: ${runs.filter((r) => hook().about(r.runId).length === 0).length}`,
          },
        );
        // More sweeps change nothing: nothing is reported again without a crash.
        clock().advance(PAST_CLAIM_MS);
        await sweep();
        await pause(100);

        let lineDuplicates = 0;
        let deliveryDuplicates = 0;
        for (const run of runs) {
          const record = (await h().check(run.runId)).json as Json;
          assert.equal(record.status, 'SUCCEEDED');
          const deliveryId = `${run.runId}:SUCCEEDED`;
          const lines = h().logs.lines('run finished', run.runId);
          const deliveries = hook().about(run.runId);
          assert.ok(lines.length >= 1, `run ${run.runId}: its "run finished" line was lost`);
          assert.ok(deliveries.length >= 1, `run ${run.runId}: its webhook was lost`);
          for (const line of lines) assert.equal(line.deliveryId, deliveryId);
          for (const delivery of deliveries) {
            assert.equal(delivery.json?.deliveryId, deliveryId);
            assert.equal(delivery.headers['x-delivery-id'], deliveryId);
          }
          // A duplicate comes only from the killed process's unfinished work, never from two live sweeps.
          assert.ok(lines.length <= 2, `run ${run.runId}: ${lines.length} lines`);
          assert.ok(deliveries.length <= 2, `run ${run.runId}: ${deliveries.length} deliveries`);
          if (lines.length > 1) lineDuplicates++;
          if (deliveries.length > 1) deliveryDuplicates++;
        }
        summary.push(
          `${count} runs, killed after ${killedLines} endings (sweep ${killedResult.errorType ?? 'finished'}): ` +
            `lines duplicated ${lineDuplicates}, deliveries duplicated ${deliveryDuplicates}, none lost`,
        );
      }
      console.log(`[report-kill ${storeName}] ${summary.join('; ')}`);
    });
  });
}
