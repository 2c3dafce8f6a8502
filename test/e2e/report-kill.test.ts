/**
 * design.md §7: "Every ending is reported at least once, never lost, even when a function is killed
 * mid-sweep; a duplicate report after a crash carries the same deliveryId." A check process of the
 * BUILT bundle sweeps 60, then 80 finished runs with a (slow) webhook receiver and is killed with
 * SIGKILL in the middle; later sweeps (the clock moved past the report claim) must write the
 * "run finished" line and deliver the webhook for every run, on both stores. (Issue #9 item 4: before,
 * 4/60 lines were never written.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { type ClockControl, clockControl } from './support/clock-control.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  type Json,
  PROJECT,
  pause,
  startHarness,
  tempDir,
} from './support/harness.ts';
import { closeStores, openTestStore, STORE_NAMES } from './support/stores.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

const ROUNDS = [60, 80];
/** Past the claim a report's writer holds (120 s) and the due slack. */
const PAST_CLAIM_MS = 130_000;

let bundles: BuiltBundles | undefined;
before(async () => {
  bundles = await buildBundles();
});
after(async () => {
  await closeStores();
  bundles?.remove();
});

for (const storeName of STORE_NAMES) {
  describe(`kill -9 of a check process mid-sweep (${storeName} ledger)`, () => {
    const dir = tempDir('ds-rel-report-');
    let harness: Harness | undefined;
    let webhook: WebhookReceiver | undefined;
    let clock: ClockControl | undefined;
    const h = (): Harness => {
      if (harness === undefined) throw new Error('the platform did not start');
      return harness;
    };
    const hook = (): WebhookReceiver => {
      if (webhook === undefined) throw new Error('the webhook did not start');
      return webhook;
    };

    before(async () => {
      clock = clockControl(dir.path);
      webhook = await startWebhookReceiver();
      // A slow receiver keeps deliveries in flight when the kill lands.
      webhook.delayMs = 15;
      const store = await openTestStore(storeName, dir.path);
      harness = await startHarness({
        distDir: bundles?.distDir ?? '',
        env: { ...store.env, ...clock.env, ALLOWED_PROJECTS: PROJECT, NOTIFY_WEBHOOK_URL: webhook.url },
        emulator: { durationMs: 50 },
      });
    });
    after(async () => {
      await harness?.close();
      await webhook?.close();
      dir.remove();
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
        const ids = new Set(runs.map((run) => run.operationId as string));
        await eventually('every operation to end', () =>
          h()
            .emulator.operations()
            .filter((op) => ids.has(op.id))
            .every((op) => op.done),
        );

        // A sweep in a process of its own, killed once it has ended a quarter of the runs.
        const sweeper = await h().spawn('check');
        const ended = () =>
          h().logs.entries.filter((e) => e.source === sweeper.source && e.json?.msg === 'run status changed')
            .length;
        const sweeping = sweeper.invoke(timerEvent());
        await eventually('the sweep to be under way', () => ended() >= count / 4, { intervalMs: 5 });
        await sweeper.kill();
        const killedResult = await sweeping;
        const killedLines = ended();

        // Later sweeps: the clock moves past any report claim the killed process held.
        await eventually(
          'every run to be reported and delivered',
          async () => {
            clock?.advance(PAST_CLAIM_MS);
            await h().platform.invoke('check', timerEvent());
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
        clock?.advance(PAST_CLAIM_MS);
        await h().platform.invoke('check', timerEvent());
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
