/**
 * `concurrency: "queue"` and `"replace"` (issue #13 item 2) on the BUILT bundles, on both stores: ten
 * concurrent queue starts of one notebook raced over three execute processes (one starts, nine wait, and
 * they run one at a time in the order they were recorded), two check processes sweeping at once when the
 * holder ends, a check process killed (SIGKILL) in the middle of a hand-over, a queued run past its
 * deadline, a cancel of a queued run, and a replacement.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { type Invoke, racedStarts, threeExecuteInstances } from './support/execute-racers.ts';
import { eventually, type Json, PROJECT } from './support/harness.ts';
import { sweepKilledMidExecute } from './support/kill-mid-call.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { STORE_NAMES } from './support/stores.ts';

const RACERS = 10;
const OVERLAP_ROUNDS = 5;
const KILL_ROUNDS = 3;
const RECHECK_SECONDS = 120;

const bundles = bundlesForTestFile();

for (const storeName of STORE_NAMES) {
  describe(`queue and replace on the built bundles (${storeName} ledger)`, () => {
    const {
      harness: h,
      store,
      clock,
      read,
      sweep,
    } = platformOnStore({
      bundles,
      store: storeName,
      dirPrefix: 'ds-orch-queue-',
      movableClock: true,
      env: { START_RECOVERY_SECONDS: '10' },
      emulator: { durationMs: 600_000 },
    });
    let executes: Invoke[] = [];
    const start = async (body: Json, key: string) => {
      const answer = await h().execute(
        { projectId: PROJECT, ...body },
        { 'Idempotency-Key': `${storeName}-${key}` },
      );
      assert.equal(answer.status, 202, answer.text);
      return answer.json as Json;
    };
    /** Ends the operation of `runId` and sweeps until the ledger has its ending. */
    async function finish(runId: string, outcome: 'OK' | 'ABORTED' = 'OK') {
      h().emulator.finish((await read(runId)).operationId, outcome);
      await eventually(`run ${runId} to end`, async () => {
        await sweep();
        return (await read(runId)).finishedAt !== undefined || undefined;
      });
    }

    before(async () => {
      executes = await threeExecuteInstances(h());
    });

    it(`${RACERS} concurrent queue starts over three processes: one runs, the others wait and run one at a time, in order`, async () => {
      const notebookId = `queue/race-${storeName}.ipynb`;
      const answers = await racedStarts(
        executes,
        RACERS,
        { projectId: PROJECT, notebookId, concurrency: 'queue' },
        (i) => `${storeName}-race-${i}`,
      );
      for (const answer of answers) assert.equal(answer.statusCode, 202, JSON.stringify(answer.json));
      const statuses = answers.map((answer) => answer.json.status as string).sort();
      assert.equal(statuses.filter((s) => s === 'RUNNING').length, 1, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 'QUEUED').length, RACERS - 1);
      assert.equal(h().operationsOf(notebookId).length, 1, 'one operation, no API call for the waiting ones');

      // In the order the waiting runs were recorded, each starts at the sweep that sees the previous end.
      const records = await Promise.all(answers.map((answer) => read(answer.json.runId)));
      const order = records
        .sort((a, b) =>
          a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.runId < b.runId ? -1 : 1,
        )
        .map((record) => record.runId as string);
      const running = records.find((record) => record.status === 'RUNNING')?.runId as string;
      const waiting = order.filter((runId) => runId !== running);
      let current = running;
      for (const next of waiting) {
        await finish(current);
        const started = await read(next);
        assert.equal(started.status, 'RUNNING', `${next} starts after ${current}`);
        assert.equal(
          h()
            .operationsOf(notebookId)
            .filter((op) => !op.done).length,
          1,
          'never two at once',
        );
        current = next;
      }
      await finish(current);
      assert.equal(h().operationsOf(notebookId).length, RACERS);
      const scope = records[0]?.concurrencyScope as string;
      assert.equal(scope, `project:${PROJECT}/${notebookId}`);
    });

    it(`two check processes that both see the ending start the queued run once (${OVERLAP_ROUNDS} rounds)`, async () => {
      const sweepers = await Promise.all([h().spawn('check'), h().spawn('check')]);
      const counts: number[] = [];
      for (let round = 1; round <= OVERLAP_ROUNDS; round++) {
        const notebookId = `queue/overlap-${storeName}-${round}.ipynb`;
        const holder = await start({ notebookId, concurrency: 'queue' }, `overlap-${round}-a`);
        const waiting = await start({ notebookId, concurrency: 'queue' }, `overlap-${round}-b`);
        assert.equal(waiting.status, 'QUEUED');
        h().emulator.finish(holder.operationId, 'OK');
        const results = await Promise.all(sweepers.map((sweeper) => sweeper.invoke(timerEvent())));
        for (const result of results) assert.equal(result.ok, true, result.errorMessage);
        await eventually('the queued run to start', async () => (await read(waiting.runId)).operationId);
        counts.push(h().operationsOf(notebookId).length);
        assert.equal(h().operationsOf(notebookId).length, 2, `round ${round}`);
        assert.equal(h().logs.lines('queued run promoted', waiting.runId).length, 1);
        await finish(waiting.runId);
      }
      console.log(
        `[queue ${storeName}] overlapping sweeps, operations per round (holder + queued): ${counts.join(' ')}`,
      );
    });

    it(`a check process killed (SIGKILL) mid hand-over: the queued run starts once (${KILL_ROUNDS} rounds)`, async () => {
      const summary: string[] = [];
      for (let round = 1; round <= KILL_ROUNDS; round++) {
        const notebookId = `queue/kill-${storeName}-${round}.ipynb`;
        const holder = await start({ notebookId, concurrency: 'queue' }, `kill-${round}-a`);
        const waiting = await start({ notebookId, concurrency: 'queue' }, `kill-${round}-b`);
        h().emulator.finish(holder.operationId, 'OK');
        const killed = await sweepKilledMidExecute(
          h(),
          "the queued run's Execute to reach the API",
          () => h().operationsOf(notebookId).length === 2,
        );
        assert.equal(killed.ok, false);
        const claim = await read(waiting.runId);
        assert.equal(claim.status, 'STARTING', 'promoted, the operation not recorded');
        clock().advance(11_000);
        await eventually('the start to be re-driven', async () => {
          await sweep();
          return (await read(waiting.runId)).operationId;
        });
        const operations = h().operationsOf(notebookId);
        assert.equal(operations.length, 2, `round ${round}`);
        assert.equal((await read(waiting.runId)).operationId, operations[1]?.id);
        summary.push(`${operations.length - 1} queued-run op`);
        await finish(waiting.runId);
      }
      console.log(`[queue ${storeName}] kill -9 mid hand-over: ${summary.join('; ')}`);
    });

    it('a queued run past its deadline ends TIMED_OUT without starting; a cancelled one ends at once', async () => {
      const notebookId = `queue/deadline-${storeName}.ipynb`;
      const holder = await start({ notebookId, concurrency: 'queue' }, 'deadline-a');
      const short = await start({ notebookId, concurrency: 'queue', timeoutSeconds: 60 }, 'deadline-b');
      const cancelled = await start({ notebookId, concurrency: 'queue' }, 'deadline-c');
      const requestsBefore = h().emulator.requests.length;
      const cancel = await h().request('POST', '/cancel', { body: { runId: cancelled.runId } });
      assert.equal(cancel.status, 202, cancel.text);
      assert.equal(cancel.json?.status, 'CANCELLED');
      assert.equal(h().emulator.requests.length, requestsBefore, 'no API call');
      clock().advance(61_000);
      await eventually('the queued run to time out', async () => {
        await sweep();
        return (await read(short.runId)).status === 'TIMED_OUT' || undefined;
      });
      const timedOut = await read(short.runId);
      assert.equal(timedOut.operationId, undefined);
      assert.match(timedOut.error.message, /waited in the queue past its deadline/);
      await finish(holder.runId);
      assert.equal(h().operationsOf(notebookId).length, 1, 'neither ever started');
      assert.equal(
        await store()
          .readRun(cancelled.runId)
          .then((r) => r?.operationId),
        undefined,
      );
      clock().advance(RECHECK_SECONDS * 1000);
      await sweep();
      assert.equal(h().operationsOf(notebookId).length, 1);
    });

    it('replace: the running run is cancelled ("replaced by"), the new one starts once the old operation is done', async () => {
      const notebookId = `queue/replace-${storeName}.ipynb`;
      const old = await start({ notebookId, concurrency: 'replace' }, 'replace-a');
      const cancelsBefore = h().emulator.requests.filter((r) => r.path.endsWith(':cancel')).length;
      const replacement = await start({ notebookId, concurrency: 'replace' }, 'replace-b');
      assert.equal(replacement.status, 'QUEUED');
      const cancels = h().emulator.requests.filter((r) => r.path.endsWith(':cancel'));
      assert.equal(cancels.length - cancelsBefore, 1, 'Operation.Cancel of the old run');
      assert.ok(cancels.at(-1)?.path.includes(old.operationId));
      const marked = await read(old.runId);
      assert.equal(marked.replacedBy, replacement.runId);
      assert.equal(marked.cancelReason, 'replaced');
      assert.equal((await read(replacement.runId)).replaces, old.runId);
      // The emulator ends a cancelled operation after its cancel delay: then the sweep hands over.
      await eventually('the replacement to start', async () => {
        await sweep();
        return (await read(replacement.runId)).operationId;
      });
      const ended = await read(old.runId);
      assert.equal(ended.status, 'CANCELLED');
      assert.deepEqual(ended.error, { code: 'REPLACED', message: `replaced by ${replacement.runId}` });
      const operations = h().operationsOf(notebookId);
      assert.equal(operations.length, 2);
      assert.equal(operations[0]?.done, true, 'the old operation was done before the new one started');
      const answer = await h().check(old.runId);
      assert.equal(answer.json?.status, 'CANCELLED');
      assert.equal(answer.json?.error?.message, `replaced by ${replacement.runId}`);
      await finish(replacement.runId);
    });
  });
}
