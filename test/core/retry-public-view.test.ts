// What callers see of a pending retry (GET /runs/{id}, the history, the CLI and the console): the public
// record's `retryAt` says "a next attempt is scheduled and not yet started", through the whole life of
// a retried run in the core (in-memory ledger, fake clock): present while the retry waits, gone once a
// sweep has started the next attempt (`retriedBy` names it), and gone when a cancel or a replacement
// stopped the retry, so that a FAILED record without it is the run's outcome. Reports never carry it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import { getRun } from '../../shared/core/get-run.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import { runIdFor } from '../../shared/core/run-identity.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { buildNotification } from '../../shared/notify/notification.ts';
import { harness, REQUEST } from './core-fixtures.ts';

type H = ReturnType<typeof harness>;

const RETRIED: RunRequest = {
  ...REQUEST,
  retry: { attempts: 2, delaySeconds: 30, backoff: 2, on: ['FAILED'] },
};

async function start(h: H, request: RunRequest, key: string): Promise<RunRecord> {
  return (await startRun({ request, trigger: 'http', dedupe: { kind: 'key', key } }, h.deps)).record;
}

/** The first attempt failed; the sweep recorded it with its retry due in 30 s. */
async function failedWithRetryDue(h: H, request = RETRIED, key = 'k'): Promise<RunRecord> {
  const first = await start(h, request, key);
  h.api.finish(first.operationId ?? '', 'ERROR');
  await sweep(h.deps);
  const ended = await getRun({ runId: first.runId }, h.deps);
  assert.equal(ended.status, 'FAILED');
  assert.ok(ended.retryAt !== undefined, 'a retry is scheduled');
  return ended;
}

describe('the public record of a retried run: retryAt', () => {
  it('is there while the next attempt is due, with the time it is due, after retriedBy in the key order', async () => {
    const h = harness();
    const ended = await failedWithRetryDue(h);
    const view = toPublicRun(ended);
    assert.equal(view.retryAt, ended.retryAt);
    assert.equal(view.retryAt, new Date(Date.parse(ended.finishedAt ?? '') + 30_000).toISOString());
    assert.equal(view.retriedBy, undefined);
    const keys = Object.keys(view);
    assert.equal(keys.indexOf('retryAt'), keys.indexOf('attempt') + 1, keys.join(','));
    // Read again before the delay is over: still pending, nothing started.
    h.clock.advance(10);
    await sweep(h.deps);
    assert.equal(toPublicRun(await getRun({ runId: ended.runId }, h.deps)).retryAt, ended.retryAt);
    assert.equal(h.api.count('execute'), 1);
  });

  it('goes once the sweep has started the next attempt: retriedBy names it, and that attempt has none', async () => {
    const h = harness();
    const ended = await failedWithRetryDue(h);
    h.clock.advance(30);
    await sweep(h.deps);
    const first = await getRun({ runId: ended.runId }, h.deps);
    assert.ok(first.retryAt !== undefined, 'the ledger keeps its retryAt (the claim condition)');
    const view = toPublicRun(first);
    assert.equal(view.retriedBy, runIdFor('retry:2:key:k'));
    assert.equal('retryAt' in view, false);
    const second = toPublicRun(await getRun({ runId: view.retriedBy ?? '' }, h.deps));
    assert.equal(second.status, 'RUNNING');
    assert.equal(second.attempt, 2);
    assert.equal('retryAt' in second, false);
  });

  it('goes when a cancel stops the pending retry: FAILED without retryAt is the outcome, and is reported so', async () => {
    const h = harness();
    const ended = await failedWithRetryDue(h);
    const answered = await cancelRun({ runId: ended.runId }, h.deps);
    const view = toPublicRun(answered);
    assert.equal(view.status, 'FAILED');
    assert.equal(view.cancelReason, 'user');
    assert.equal('retryAt' in view, false);
    assert.equal('retriedBy' in view, false);
    // Past the time the retry was due: nothing starts, the record stays the outcome.
    h.clock.advance(120);
    await sweep(h.deps);
    await sweep(h.deps);
    const later = toPublicRun(await getRun({ runId: ended.runId }, h.deps));
    assert.equal('retryAt' in later, false);
    assert.equal(h.api.count('execute'), 1);
    const report = buildNotification(await getRun({ runId: ended.runId }, h.deps));
    assert.equal('retryAt' in report.run, false);
  });

  it('goes when a replacement stops the pending retry (concurrency "replace")', async () => {
    const h = harness();
    const ended = await failedWithRetryDue(h, { ...RETRIED, concurrency: 'replace' }, 'old');
    await start(h, { ...REQUEST, concurrency: 'replace' }, 'new');
    const replaced = await getRun({ runId: ended.runId }, h.deps);
    assert.equal(replaced.cancelReason, 'replaced');
    const view = toPublicRun(replaced);
    assert.equal(view.status, 'FAILED');
    assert.equal('retryAt' in view, false);
    h.clock.advance(120);
    await sweep(h.deps);
    assert.equal('retryAt' in toPublicRun(await getRun({ runId: ended.runId }, h.deps)), false);
    assert.equal(await h.ledger.get(runIdFor('retry:2:key:old')), undefined, 'no second attempt');
  });

  it('is never there without a retry to come: no retry policy, or the last attempt', async () => {
    const h = harness();
    const plain = await start(h, REQUEST, 'plain');
    h.api.finish(plain.operationId ?? '', 'ERROR');
    await sweep(h.deps);
    assert.equal('retryAt' in toPublicRun(await getRun({ runId: plain.runId }, h.deps)), false);
    const ended = await failedWithRetryDue(h);
    h.clock.advance(30);
    await sweep(h.deps);
    const second = await getRun({ runId: runIdFor('retry:2:key:k') }, h.deps);
    h.api.finish(second.operationId ?? '', 'ERROR');
    h.clock.advance(60);
    await sweep(h.deps);
    const last = await getRun({ runId: second.runId }, h.deps);
    assert.equal(last.status, 'FAILED');
    assert.equal('retryAt' in toPublicRun(last), false, 'no attempts left');
    assert.equal(toPublicRun(await getRun({ runId: ended.runId }, h.deps)).retriedBy, second.runId);
  });
});
