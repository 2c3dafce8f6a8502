// Retries × queue: the concurrency slot follows the attempts and is let go by the last one; a later
// settle pass of an earlier attempt (its follow-up came due again) must not take the slot back for an
// attempt that has already ended. Found by QA with random interleavings of queue/replace/skip/retry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRun } from '../../shared/core/check-run.ts';
import { runIdFor } from '../../shared/core/run-identity.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { harness } from './core-fixtures.ts';

const REQUEST: RunRequest = {
  projectId: 'p1',
  notebookId: 'nb.ipynb',
  concurrency: 'queue',
  retry: { attempts: 2, delaySeconds: 10, backoff: 1, on: ['FAILED'] },
};

describe('retries × queue: the slot after the last attempt', () => {
  it('stays free when an earlier attempt is settled again after the last attempt ended', async () => {
    const h = harness();
    const first = (
      await startRun({ request: REQUEST, trigger: 'http', dedupe: { kind: 'key', key: 'k' } }, h.deps)
    ).record;
    const scope = first.concurrencyScope ?? '';
    h.api.finish(first.operationId ?? '', 'ERROR');
    h.clock.advance(5);
    await sweep(h.deps);
    h.clock.advance(15);
    await sweep(h.deps);
    const secondId = runIdFor('retry:2:key:k');
    const second = await h.ledger.get(secondId);
    assert.equal(second?.status, 'RUNNING', 'the retry runs');
    assert.equal((await h.ledger.getSlot(scope))?.holder, secondId, 'and holds the slot');
    h.api.finish(second?.operationId ?? '', 'OK');
    h.clock.advance(5);
    await sweep(h.deps);
    assert.equal((await h.ledger.get(secondId))?.status, 'SUCCEEDED');
    assert.equal(await h.ledger.getSlot(scope), undefined, 'the last attempt let the slot go');

    // The first attempt comes due once more (a follow-up step of its ending is retried) and is settled.
    const earlier = (await h.ledger.get(first.runId)) as RunRecord;
    await h.ledger.update({ ...earlier, nextCheckAt: h.clock.now().toISOString() });
    await checkRun((await h.ledger.get(first.runId)) as RunRecord, h.deps, { settle: true, attempts: 0 });

    assert.equal(await h.ledger.getSlot(scope), undefined, 'nobody holds the slot: no run of the scope runs');
    assert.equal(h.logged('a retry runs without its concurrency slot: another run took it').length, 0);
  });
});
