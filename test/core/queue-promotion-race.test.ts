// A waiting run promoted by one sweep while another sweep is handing the slot to it: the loser must
// stop, not pass the slot of a run that is now starting on to the next waiting run (two notebook runs
// at once in a `queue` scope). Found by QA with random interleavings of queue/replace/skip/retry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handOffSlot, kickScope } from '../../shared/core/run-queue.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { harness } from './core-fixtures.ts';

const QUEUE: RunRequest = { projectId: 'p1', notebookId: 'nb.ipynb', concurrency: 'queue' };

/** A view of `ledger` whose first write of `runId` waits until `gate` opens (that sweep is slow). */
function slowFirstWrite(ledger: RunLedger, runId: string, gate: Promise<void>): RunLedger {
  let held = false;
  return Object.assign(Object.create(ledger) as RunLedger, {
    async update(record: RunRecord) {
      if (!held && record.runId === runId) {
        held = true;
        await gate;
      }
      return ledger.update(record);
    },
  });
}

async function queuedBehindEndedHolder() {
  const h = harness();
  const start = (key: string) =>
    startRun({ request: QUEUE, trigger: 'http', dedupe: { kind: 'key', key } }, h.deps);
  const holder = (await start('holder')).record;
  h.clock.advance(1);
  const first = (await start('first')).record;
  h.clock.advance(1);
  const second = (await start('second')).record;
  assert.equal(first.status, 'QUEUED');
  assert.equal(second.status, 'QUEUED');
  // The holder ends, and the sweep that records it dies before its hand-over (the slot stays with it).
  h.api.finish(holder.operationId ?? '', 'OK');
  h.clock.advance(30);
  const dying = Object.assign(Object.create(h.ledger) as RunLedger, {
    transferSlot: async () => {
      throw new Error('killed mid hand-over');
    },
    releaseSlot: async () => {
      throw new Error('killed mid hand-over');
    },
  });
  await sweep({ ...h.deps, ledger: dying });
  assert.equal((await h.ledger.get(holder.runId))?.status, 'SUCCEEDED');
  assert.equal((await h.ledger.getSlot(holder.concurrencyScope ?? ''))?.holder, holder.runId);
  // Later, everything is due at once: the holder's hand-over, and both waiting runs' own looks.
  h.clock.advance(180);
  return { h, holder, first, second };
}

describe('queue: two sweeps moving the same queue at once', () => {
  it('a hand-over whose promotion loses to another sweep stops there, and does not pass the slot on', async () => {
    const { h, holder, first, second } = await queuedBehindEndedHolder();
    const scope = holder.concurrencyScope ?? '';
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    // Sweep A settles the holder's ending: it hands the slot to the oldest waiting run, then is slow
    // to promote it; sweep B's look at that run (kickScope: the slot's holder is a waiting run)
    // promotes it first.
    const slow = handOffSlot(scope, holder.runId, {
      ...h.deps,
      ledger: slowFirstWrite(h.ledger, first.runId, gate),
    });
    for (let i = 0; i < 20 && (await h.ledger.getSlot(scope))?.holder !== first.runId; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await h.ledger.getSlot(scope))?.holder, first.runId, 'A handed the slot over');
    const promotedByB = await kickScope(scope, h.deps);
    assert.equal(promotedByB?.runId, first.runId);
    open();
    const promotedByA = await slow;

    assert.equal(promotedByA, undefined, 'A has nothing to start: B promoted the run');
    assert.equal((await h.ledger.get(first.runId))?.status, 'STARTING');
    assert.equal((await h.ledger.get(second.runId))?.status, 'QUEUED', 'the next one still waits');
    assert.equal(
      (await h.ledger.getSlot(scope))?.holder,
      first.runId,
      'the slot stays with the promoted run',
    );
  });

  it('start only the oldest waiting run when the slot is free and another sweep promotes it first', async () => {
    const { h, holder, first, second } = await queuedBehindEndedHolder();
    // The ended holder's slot is gone (a skip start took it over from the ended run and let it go):
    // the waiting runs find it free.
    await h.ledger.releaseSlot(holder.concurrencyScope ?? '', holder.runId);
    // The holder itself is settled; only the waiting runs move the queue now.
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const slow = sweep({ ...h.deps, ledger: slowFirstWrite(h.ledger, first.runId, gate) });
    await new Promise((resolve) => setImmediate(resolve));
    await sweep(h.deps);
    open();
    await slow;

    const statuses = [(await h.ledger.get(first.runId))?.status, (await h.ledger.get(second.runId))?.status];
    assert.deepEqual(statuses, ['RUNNING', 'QUEUED'], 'one run at a time, the oldest first');
    assert.equal(h.api.count('execute'), 2);
  });
});
