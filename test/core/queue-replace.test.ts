// `concurrency: "queue"` and `"replace"` (issue #13 item 2) in the core, with the in-memory ledger and a
// fake clock: who waits, who starts when, in what order, and what holds under overlapping sweeps, a
// sweep killed in the middle of a hand-over, a deadline and a cancel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import { getRun } from '../../shared/core/get-run.ts';
import { QUEUE_RECHECK_SECONDS } from '../../shared/core/run-queue.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { tick } from '../../shared/core/tick.ts';
import { RunnerError } from '../../shared/errors.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { harness, REQUEST, RecordingNotifier } from './core-fixtures.ts';

type H = ReturnType<typeof harness>;
const QUEUE: RunRequest = { ...REQUEST, concurrency: 'queue' };
const REPLACE: RunRequest = { ...REQUEST, concurrency: 'replace' };

async function start(h: H, request: RunRequest, key: string) {
  return startRun({ request, trigger: 'http', dedupe: { kind: 'key', key } }, h.deps);
}

const get = async (h: H, runId: string): Promise<RunRecord> => {
  const record = await h.ledger.get(runId);
  assert.ok(record, `run ${runId} is in the ledger`);
  return record;
};

/** Ends the operation of `runId` and sweeps a minute later. */
async function finishAndSweep(h: H, runId: string, outcome: 'OK' | 'ERROR' | 'ABORTED' = 'OK') {
  h.api.finish((await get(h, runId)).operationId ?? '', outcome);
  h.clock.advance(60);
  await sweep(h.deps);
}

describe('concurrency "queue"', () => {
  it('records a start behind a running run QUEUED, with no API call, and starts the oldest at the sweep that sees the ending', async () => {
    const h = harness();
    const first = await start(h, QUEUE, 'a');
    assert.equal(first.outcome, 'started');
    h.clock.advance(1);
    const second = await start(h, QUEUE, 'b');
    h.clock.advance(1);
    const third = await start(h, QUEUE, 'c');
    assert.equal(second.outcome, 'queued');
    assert.equal(second.record.status, 'QUEUED');
    assert.equal(third.record.status, 'QUEUED');
    assert.equal(h.api.count('execute'), 1, 'no API call for a queued run');
    assert.equal(h.logged('run queued').length, 2);

    await finishAndSweep(h, first.record.runId);
    assert.equal((await get(h, first.record.runId)).status, 'SUCCEEDED');
    assert.equal((await get(h, second.record.runId)).status, 'RUNNING', 'the oldest starts, in that sweep');
    assert.equal((await get(h, third.record.runId)).status, 'QUEUED');
    assert.equal(h.api.count('execute'), 2);
    const scope = first.record.concurrencyScope ?? '';
    assert.equal((await h.ledger.getSlot(scope))?.holder, second.record.runId);

    await finishAndSweep(h, second.record.runId, 'ERROR');
    assert.equal((await get(h, third.record.runId)).status, 'RUNNING');
    await finishAndSweep(h, third.record.runId);
    assert.equal(await h.ledger.getSlot(scope), undefined, 'freed when nobody waits');
    assert.equal(h.api.count('execute'), 3);
    // The queue's order is the order of the starts, and a waiting run reports its queued time.
    const started = h.logged('run status changed').filter((l) => l.status === 'RUNNING');
    assert.deepEqual(
      started.map((l) => l.runId),
      [first.record.runId, second.record.runId, third.record.runId],
    );
  });

  it('costs a waiting run one recheck per interval, and nothing at a status call', async () => {
    const h = harness();
    await start(h, QUEUE, 'a');
    const waiting = (await start(h, QUEUE, 'b')).record;
    assert.equal(
      Date.parse(waiting.nextCheckAt ?? '') - h.clock.ms,
      QUEUE_RECHECK_SECONDS * 1000,
      'looked at again after the recheck interval',
    );
    const calls = h.api.calls.length;
    assert.equal((await getRun({ runId: waiting.runId }, h.deps)).status, 'QUEUED');
    assert.equal(h.api.calls.length, calls, 'a status call of a waiting run calls no API');
    const version = waiting.version;
    h.clock.advance(QUEUE_RECHECK_SECONDS);
    await sweep(h.deps);
    assert.equal(h.api.count('execute'), 1);
    const after = await get(h, waiting.runId);
    assert.equal(after.status, 'QUEUED');
    assert.equal(after.version, version + 1, 'one write per look');
  });

  it('a queued run past its deadline ends TIMED_OUT without starting, and the next one gets the slot', async () => {
    const h = harness();
    const first = await start(h, QUEUE, 'a');
    const short = await start(h, { ...QUEUE, timeoutSeconds: 30 }, 'b');
    h.clock.advance(1);
    const long = await start(h, QUEUE, 'c');
    h.clock.advance(31);
    await sweep(h.deps);
    const timedOut = await get(h, short.record.runId);
    assert.equal(timedOut.status, 'TIMED_OUT');
    assert.equal(timedOut.operationId, undefined);
    assert.match(timedOut.error?.message ?? '', /waited in the queue past its deadline/);
    assert.equal(h.logged('run finished').filter((l) => l.runId === short.record.runId).length, 1);
    await finishAndSweep(h, first.record.runId);
    assert.equal((await get(h, long.record.runId)).status, 'RUNNING');
    assert.equal(h.api.count('execute'), 2);
  });

  it('cancel of a queued run is immediate: CANCELLED, no API call, and it never starts', async () => {
    const h = harness();
    const first = await start(h, QUEUE, 'a');
    const waiting = await start(h, QUEUE, 'b');
    const calls = h.api.calls.length;
    const cancelled = await cancelRun({ runId: waiting.record.runId }, h.deps);
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal(cancelled.error?.message, 'cancelled while queued; it never started');
    assert.equal(h.api.calls.length, calls);
    assert.equal(h.logged('run finished').length, 1);
    await finishAndSweep(h, first.record.runId);
    assert.equal(h.api.count('execute'), 1);
    assert.equal(await h.ledger.getSlot(first.record.concurrencyScope ?? ''), undefined);
  });

  it('two overlapping sweeps that both see the ending start the queued run once', async () => {
    for (let round = 0; round < 20; round++) {
      const h = harness();
      const first = await start(h, QUEUE, 'a');
      const waiting = await start(h, QUEUE, 'b');
      h.api.finish(first.record.operationId ?? '', 'OK');
      h.clock.advance(60);
      await Promise.all([sweep(h.deps), sweep(h.deps)]);
      assert.equal(h.api.count('execute'), 2, `round ${round}`);
      assert.equal((await get(h, waiting.record.runId)).status, 'RUNNING');
      assert.equal(h.logged('queued run promoted').length, 1);
    }
  });

  it('a sweep killed between the slot transfer and the promotion: the waiting run starts at its next look', async () => {
    const h = harness();
    const first = await start(h, QUEUE, 'a');
    const waiting = await start(h, QUEUE, 'b');
    const realUpdate = h.ledger.update.bind(h.ledger);
    h.ledger.update = async (record) => {
      if (record.runId === waiting.record.runId && record.status === 'STARTING') {
        throw new RunnerError('LEDGER_ERROR', 'the sweep died here');
      }
      return realUpdate(record);
    };
    await finishAndSweep(h, first.record.runId);
    h.ledger.update = realUpdate;
    const scope = first.record.concurrencyScope ?? '';
    assert.equal((await h.ledger.getSlot(scope))?.holder, waiting.record.runId, 'the slot moved');
    assert.equal((await get(h, waiting.record.runId)).status, 'QUEUED', 'the promotion did not');
    h.clock.advance(QUEUE_RECHECK_SECONDS);
    await sweep(h.deps);
    assert.equal((await get(h, waiting.record.runId)).status, 'RUNNING');
    assert.equal(h.api.count('execute'), 2);
  });

  it('a run queued just as the holder handed over (the hand-over did not see it) is started by its own start', async () => {
    const h = harness();
    const first = await start(h, QUEUE, 'a');
    // The holder ends and frees its slot while the second start is between its look at the slot and its record.
    const realCreate = h.ledger.create.bind(h.ledger);
    h.ledger.create = async (record) => {
      h.ledger.create = realCreate;
      h.api.finish(first.record.operationId ?? '', 'OK');
      h.clock.advance(60);
      await sweep(h.deps);
      return realCreate(record);
    };
    const second = await start(h, QUEUE, 'b');
    assert.equal(second.outcome, 'started');
    assert.equal(second.record.status, 'RUNNING');
  });

  it('waits for a timed-out holder until its cancelled operation is done', async () => {
    const h = harness();
    const first = await start(h, { ...QUEUE, timeoutSeconds: 60 }, 'a');
    const waiting = await start(h, QUEUE, 'b');
    h.clock.advance(61);
    await sweep(h.deps);
    assert.equal((await get(h, first.record.runId)).status, 'TIMED_OUT');
    assert.equal((await get(h, waiting.record.runId)).status, 'QUEUED', 'the old operation still runs');
    h.api.finish(first.record.operationId ?? '', 'ABORTED');
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal((await get(h, waiting.record.runId)).status, 'RUNNING');
  });

  it('a job with concurrency queue queues its next slot behind the running one', async () => {
    const h = harness();
    const jobs: JobDefinition<RunRequest>[] = [
      { name: 'every5', schedule: '*/5 * ? * * *', concurrency: 'queue', run: REQUEST },
    ];
    await tick(jobs, new Date('2026-06-01T10:00:00Z'), h.deps);
    const second = await tick(jobs, new Date('2026-06-01T10:05:00Z'), h.deps);
    assert.equal(second[0]?.result, 'queued');
    assert.equal(h.api.count('execute'), 1);
  });
});

describe('concurrency "replace"', () => {
  it('cancels the running run, and starts the new one once the old operation is done', async () => {
    const notifier = new RecordingNotifier(['webhook']);
    const h = harness({ notifier });
    const first = await start(h, REPLACE, 'a');
    const second = await start(h, REPLACE, 'b');
    assert.equal(second.outcome, 'queued');
    assert.equal(second.record.replaces, first.record.runId);
    const old = await get(h, first.record.runId);
    assert.equal(old.status, 'RUNNING');
    assert.equal(old.cancelReason, 'replaced');
    assert.equal(old.replacedBy, second.record.runId);
    assert.deepEqual(
      h.api.calls.filter((c) => c.rpc === 'cancel').map((c) => c.id),
      [first.record.operationId],
    );
    h.clock.advance(60);
    await sweep(h.deps);
    assert.equal((await get(h, second.record.runId)).status, 'QUEUED', 'the old operation is not done');

    await finishAndSweep(h, first.record.runId, 'ABORTED');
    const ended = await get(h, first.record.runId);
    assert.equal(ended.status, 'CANCELLED');
    assert.deepEqual(ended.error, { code: 'REPLACED', message: `replaced by ${second.record.runId}` });
    assert.equal((await get(h, second.record.runId)).status, 'RUNNING');
    assert.equal(h.api.count('execute'), 2);
    assert.deepEqual(notifier.delivered, [
      { destination: 'webhook', runId: first.record.runId, status: 'CANCELLED' },
    ]);
  });

  it('cancels runs already waiting in the scope: the newest request wins', async () => {
    const h = harness();
    const first = await start(h, QUEUE, 'a');
    const waiting = await start(h, QUEUE, 'b');
    h.clock.advance(1);
    const replacement = await start(h, REPLACE, 'c');
    const cancelled = await get(h, waiting.record.runId);
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal(cancelled.error?.message, `replaced by ${replacement.record.runId}`);
    await finishAndSweep(h, first.record.runId, 'ABORTED');
    assert.equal((await get(h, replacement.record.runId)).status, 'RUNNING');
    assert.equal(h.api.count('execute'), 2);
  });

  it('with a holder that has ended, starts at once', async () => {
    const h = harness();
    const first = await start(h, REPLACE, 'a');
    await finishAndSweep(h, first.record.runId);
    const second = await start(h, REPLACE, 'b');
    assert.equal(second.outcome, 'started');
    assert.equal(h.api.count('cancel'), 0);
  });

  it("a start that died before asking the holder to stop is completed at the waiting run's next look", async () => {
    const h = harness();
    const first = await start(h, REPLACE, 'a');
    const realCancel = h.api.operationsApi.cancel;
    h.api.operationsApi.cancel = async () => {
      throw new RunnerError('API_UNREACHABLE', 'down');
    };
    const second = await start(h, REPLACE, 'b');
    h.api.operationsApi.cancel = realCancel;
    assert.equal(second.outcome, 'queued');
    h.clock.advance(QUEUE_RECHECK_SECONDS);
    await sweep(h.deps);
    assert.equal(h.api.calls.filter((c) => c.rpc === 'cancel').length, 1, 'Cancel sent again');
    await finishAndSweep(h, first.record.runId, 'ABORTED');
    assert.equal((await get(h, second.record.runId)).status, 'RUNNING');
  });
});
