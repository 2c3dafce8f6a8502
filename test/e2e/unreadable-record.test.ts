/**
 * design.md §7: "One unreadable record never stops a sweep: it is set aside with an error that names
 * it, and the other runs are checked." A run record is damaged in the store (a file that is not JSON; on
 * the Document API an item whose `doc` is not JSON), among 19 healthy runs, on both stores. The sweep
 * must check, time out and report every other run, name the bad record once (not on every sweep), keep
 * its bytes for inspection, and a `skip` start of the damaged run's notebook must not be blocked by it.
 * (Issue #9 item 3: before, every sweep threw and every skip start answered 503.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { eventually, type Json, PROJECT } from './support/harness.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { STORE_NAMES } from './support/stores.ts';

const GARBAGE = '{"runId": "half a record, cut off by a bad hand edit';
const SET_ASIDE = 'unreadable run record set aside';

const bundles = bundlesForTestFile();

for (const storeName of STORE_NAMES) {
  describe(`one unreadable record among twenty runs (${storeName} ledger)`, () => {
    const {
      harness: h,
      store,
      sweep,
    } = platformOnStore({ bundles, store: storeName, dirPrefix: 'ds-rel-bad-' });

    async function start(body: Json): Promise<Json> {
      const answer = await h().execute({ projectId: PROJECT, ...body });
      assert.equal(answer.status, 202, answer.text);
      return answer.json as Json;
    }

    it('is set aside with one error naming it; the 19 others are checked, timed out and reported; skip is not blocked', async () => {
      const held = `bad/held-${storeName}.ipynb`;
      h().emulator.plan({ notebookId: held, durationMs: 600_000 });
      const damaged = await start({ notebookId: held, concurrency: 'skip' });
      const healthy: Json[] = [];
      for (let i = 0; i < 15; i++) {
        const notebookId = `bad/ok-${i}.ipynb`;
        h().emulator.plan({ notebookId, durationMs: 50 });
        healthy.push(await start({ notebookId }));
      }
      for (let i = 0; i < 4; i++) {
        const notebookId = `bad/slow-${i}.ipynb`;
        h().emulator.plan({ notebookId, durationMs: 600_000 });
        healthy.push(await start({ notebookId, timeoutSeconds: 1 }));
      }
      await store().corruptRun(damaged.runId, GARBAGE);
      await eventually('the short runs to end in the emulator', () =>
        healthy.slice(0, 15).every(
          (run) =>
            h()
              .emulator.operations()
              .find((op) => op.id === run.operationId)?.done,
        ),
      );

      await eventually(
        'every healthy run to be reported finished',
        async () => {
          await sweep();
          return healthy.every((run) => h().logs.finishedCount(run.runId) === 1);
        },
        { describe: () => h().logs.tail(10) },
      );
      for (let i = 0; i < 3; i++) await sweep();
      for (const [index, run] of healthy.entries()) {
        const record = (await h().check(run.runId)).json as Json;
        assert.equal(record.status, index < 15 ? 'SUCCEEDED' : 'TIMED_OUT', JSON.stringify(record));
      }

      const errors = h().logs.lines(SET_ASIDE);
      assert.equal(errors.length, 1, `set aside once, not on every sweep: ${errors.length}`);
      assert.equal(errors[0]?.level, 'ERROR');
      assert.equal(errors[0]?.runId, damaged.runId);
      assert.match(JSON.stringify(errors[0]), new RegExp(damaged.runId));
      assert.equal(h().logs.lines('sweep failed').length, 0);

      // The bytes are kept for inspection.
      assert.equal(await store().storedText(damaged.runId), GARBAGE);

      // A skip start of the damaged run's notebook is not blocked by it (its holder cannot be read).
      const next = await h().execute({ projectId: PROJECT, notebookId: held, concurrency: 'skip' });
      assert.equal(next.status, 202, next.text);
      assert.equal(next.json?.status, 'RUNNING');
    });
  });
}
