// The core's side of design.md §7 with a fake clock and the in-memory ledger: starts of unknown
// outcome, the concurrency slot, reports that survive a dead writer, unreadable records, and the
// early-404 grace of the Activate wait. (The same promises are raced and killed for real on the built
// bundles in test/e2e.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finished } from '../../shared/core/run-commit.ts';
import { runIdFor } from '../../shared/core/run-identity.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { tick } from '../../shared/core/tick.ts';
import { isRunnerError, RunnerError } from '../../shared/errors.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import type { UnreadableRecord } from '../../shared/ledger/run-ledger.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { ApiFailure, harness, REQUEST, RecordingNotifier } from './core-fixtures.ts';

const viaKey = (key: string) => ({ kind: 'key', key }) as const;
const SKIP: RunRequest = { ...REQUEST, concurrency: 'skip' };

/** A start whose RUNNING write is lost (the starter "dies" after Execute took effect). */
async function startThatDies(
  h: ReturnType<typeof harness>,
  request: RunRequest,
  key = 'k',
): Promise<RunRecord> {
  const realUpdate = h.ledger.update.bind(h.ledger);
  h.ledger.update = async (record) => {
    if (record.status === 'RUNNING') throw new RunnerError('LEDGER_ERROR', 'the starter died here');
    return realUpdate(record);
  };
  await assert.rejects(startRun({ request, trigger: 'http', dedupe: viaKey(key) }, h.deps));
  h.ledger.update = realUpdate;
  const record = await h.ledger.get(runIdFor(`key:${key}`));
  assert.equal(record?.status, 'STARTING');
  assert.equal(record?.operationId, undefined);
  return record as RunRecord;
}

describe('a start whose outcome is unknown', () => {
  it('past its deadline, is re-driven with the same key; the operation it finds is cancelled and recorded TIMED_OUT', async () => {
    const h = harness({ settings: { startRecoverySeconds: 10 } });
    const claim = await startThatDies(h, { ...REQUEST, timeoutSeconds: 15 });
    assert.ok(claim.startSentAt, 'the claim says Execute may have been sent');
    const [orphan] = h.api.operations.values();
    h.clock.advance(20);
    await sweep(h.deps);
    const record = await h.ledger.get(claim.runId);
    assert.equal(record?.status, 'TIMED_OUT');
    assert.equal(record?.operationId, orphan?.id);
    assert.equal(record?.cancelReason, 'deadline');
    const executes = h.api.calls.filter((c) => c.rpc === 'execute');
    assert.equal(executes.length, 2);
    assert.equal(executes[0]?.idempotencyKey, executes[1]?.idempotencyKey);
    assert.equal(h.api.operations.size, 1, 'no second run');
    const cancels = h.api.calls.filter((c) => c.rpc === 'cancel');
    assert.ok(cancels.length >= 1, 'the orphan was cancelled');
    for (const cancel of cancels) assert.equal(cancel.id, orphan?.id);
    assert.equal(h.logged('run finished').length, 1);
    assert.equal(h.logged('run finished')[0]?.operationId, orphan?.id);
  });

  it('that never sent its start (an activation run), past its deadline, ends NOT_STARTED without an API call', async () => {
    const h = harness({ settings: { startRecoverySeconds: 10 } });
    h.api.failures.activate = [() => new ApiFailure(503, 14, 'unavailable')];
    const request = { ...REQUEST, dockerId: 'img1', timeoutSeconds: 15 };
    await assert.rejects(startRun({ request, trigger: 'http', dedupe: viaKey('k') }, h.deps));
    const calls = h.api.calls.length;
    h.clock.advance(20);
    await sweep(h.deps);
    const record = await h.ledger.get(runIdFor('key:k'));
    assert.equal(record?.status, 'FAILED');
    assert.equal(record?.error?.code, 'NOT_STARTED');
    assert.equal(h.api.calls.length, calls, 'nothing was sent');
  });

  it('costs no ledger write for a plain run (the claim says it), one for an activation run', async () => {
    const h = harness();
    const plain = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('a') }, h.deps);
    assert.equal(plain.record.version, 2, 'create + RUNNING');
    const activated = await startRun(
      { request: { ...REQUEST, dockerId: 'img1' }, trigger: 'http', dedupe: viaKey('b') },
      h.deps,
    );
    assert.equal(activated.record.version, 3, 'create + sent mark + RUNNING');
    assert.ok(activated.record.startSentAt);
  });
});

describe('concurrency "skip" through the slot', () => {
  it('of 20 concurrent starts of one notebook with different keys, exactly one starts', async () => {
    const h = harness();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        startRun({ request: SKIP, trigger: 'http', dedupe: viaKey(`k${i}`) }, h.deps),
      ),
    );
    const started = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter(
      (r) => r.status === 'rejected' && isRunnerError(r.reason) && r.reason.code === 'RUN_ALREADY_RUNNING',
    );
    assert.equal(started.length, 1);
    assert.equal(refused.length, 19);
    assert.equal(h.api.count('execute'), 1);
    const winner = (started[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof startRun>>>).value.record;
    assert.equal(winner.concurrencyScope, `project:p1/${REQUEST.notebookId}`);
    assert.equal((await h.ledger.getSlot(winner.concurrencyScope ?? ''))?.holder, winner.runId);
  });

  it('is freed when the run ends, and the next skip start runs', async () => {
    const h = harness();
    const first = await startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('a') }, h.deps);
    await assert.rejects(startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('b') }, h.deps));
    h.api.finish(first.record.operationId ?? '', 'OK');
    await sweep(h.deps);
    assert.equal(await h.ledger.getSlot(first.record.concurrencyScope ?? ''), undefined);
    const next = await startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('c') }, h.deps);
    assert.equal(next.outcome, 'started');
  });

  it('is taken over from a holder that ended without freeing it (killed after its last write)', async () => {
    const h = harness();
    const first = await startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('a') }, h.deps);
    // The final write lands; the process dies before it frees the slot.
    await h.ledger.update(finished(first.record, h.clock.now(), 'SUCCEEDED'));
    assert.equal((await h.ledger.getSlot(first.record.concurrencyScope ?? ''))?.holder, first.record.runId);
    const next = await startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('b') }, h.deps);
    assert.equal(next.outcome, 'started');
    const takeover = h.logged('concurrency slot taken over from a run that no longer runs');
    assert.equal(takeover[0]?.reason, 'ended');
  });

  it('waits for a holder whose record is not there yet, and takes the slot over after a start lease', async () => {
    const h = harness({ settings: { startRecoverySeconds: 30 } });
    const scope = `project:p1/${REQUEST.notebookId}`;
    // A starter took the slot and died before creating its record.
    await h.ledger.acquireSlot(scope, 'ghost-run', h.clock.now().toISOString());
    await assert.rejects(
      startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('a') }, h.deps),
      (error) =>
        isRunnerError(error) && (error.details?.run as { runId?: string } | undefined)?.runId === 'ghost-run',
    );
    h.clock.advance(31);
    const next = await startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('b') }, h.deps);
    assert.equal(next.outcome, 'started');
    assert.equal(
      h.logged('concurrency slot taken over from a run that no longer runs')[0]?.reason,
      'missing',
    );
  });

  it('is taken over from a holder whose record cannot be read', async () => {
    const ledger = createInMemoryLedger();
    const h = harness({ ledger });
    const first = await startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('a') }, h.deps);
    ledger.putRaw(first.record.runId, '{ not json');
    const next = await startRun({ request: SKIP, trigger: 'http', dedupe: viaKey('b') }, h.deps);
    assert.equal(next.outcome, 'started');
    assert.equal(
      h.logged('concurrency slot taken over from a run that no longer runs')[0]?.reason,
      'unreadable',
    );
  });

  it('of ten ticks of different minutes of a skip job at once, exactly one starts', async () => {
    const h = harness();
    h.clock.ms = Date.parse('2026-06-01T10:00:05Z');
    const jobs: JobDefinition<RunRequest>[] = [
      {
        name: 'every-minute',
        schedule: '* * ? * * *',
        concurrency: 'skip',
        run: REQUEST,
      } as JobDefinition<RunRequest>,
    ];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => tick(jobs, new Date(h.clock.ms + i * 60_000), h.deps)),
    );
    assert.equal(h.api.count('execute'), 1);
    const [record] = await h.ledger.listOpen();
    assert.equal(record?.concurrencyScope, 'job:every-minute');
  });
});

describe('reports of endings', () => {
  it('carry the deliveryId on the "run finished" line', async () => {
    const h = harness();
    const run = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('a') }, h.deps);
    h.api.finish(run.record.operationId ?? '', 'OK');
    await sweep(h.deps);
    const [line] = h.logged('run finished');
    assert.equal(line?.deliveryId, `${run.record.runId}:SUCCEEDED`);
    assert.equal((await h.ledger.get(run.record.runId))?.reportedAt !== undefined, true);
  });

  it('an ending whose writer died before its line is reported by a sweep once its claim ran out, once', async () => {
    const notifier = new RecordingNotifier(['webhook']);
    const h = harness({ notifier });
    const run = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('a') }, h.deps);
    // The writer of the ending: its compare-and-set lands, then it is killed (no line, no report).
    await h.ledger.update(finished(run.record, h.clock.now(), 'SUCCEEDED', { operationDone: true }));
    h.clock.advance(60);
    await Promise.all([sweep(h.deps), sweep(h.deps)]);
    assert.equal(h.logged('run finished').length, 0, 'the writer still holds its report');
    h.clock.advance(61);
    await Promise.all([sweep(h.deps), sweep(h.deps)]);
    const lines = h.logged('run finished');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.repeated, true);
    assert.equal(lines[0]?.deliveryId, `${run.record.runId}:SUCCEEDED`);
    assert.deepEqual(
      notifier.delivered.map((d) => d.runId),
      [run.record.runId],
    );
    h.clock.advance(600);
    await sweep(h.deps);
    assert.equal(h.logged('run finished').length, 1);
    const record = await h.ledger.get(run.record.runId);
    assert.ok(record?.reportedAt);
    assert.equal(record?.nextCheckAt, undefined, 'settled');
  });
});

describe('an unreadable record', () => {
  it('is set aside by the sweep, which checks every other run', async () => {
    const reported: UnreadableRecord[] = [];
    const ledger = createInMemoryLedger({ onUnreadable: (record) => reported.push(record) });
    const h = harness({ ledger });
    const runs = [];
    for (const key of ['a', 'b', 'c']) {
      runs.push((await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey(key) }, h.deps)).record);
    }
    ledger.putRaw(runs[1]?.runId ?? '', 'garbage');
    for (const run of runs) h.api.finish(run.operationId ?? '', 'OK');
    const summary = await sweep(h.deps);
    assert.equal(summary.finished, 2);
    assert.equal(summary.failures, 0);
    assert.equal(reported.length, 1);
    assert.equal(reported[0]?.runId, runs[1]?.runId);
    await sweep(h.deps);
    assert.equal(reported.length, 1);
  });
});

describe('the Docker image activation wait', () => {
  it('waits through Operation.Get 404s right after Activate (the early-404 grace), then executes', async () => {
    const h = harness();
    h.api.activateDoneAfterGets = 1;
    h.api.failures.get = [
      () => new ApiFailure(404, 5, 'operation not found'),
      () => new ApiFailure(404, 5, 'operation not found'),
    ];
    const result = await startRun(
      { request: { ...REQUEST, dockerId: 'img1' }, trigger: 'http', dedupe: viaKey('k') },
      h.deps,
    );
    assert.equal(result.record.status, 'RUNNING');
    assert.deepEqual(
      h.api.calls.map((c) => c.rpc),
      ['activate', 'get', 'get', 'get', 'execute'],
    );
  });

  it('fails the run on a 404 that lasts past NOT_FOUND_GRACE_SECONDS', async () => {
    const h = harness({ settings: { notFoundGraceSeconds: 2 } });
    h.api.activateDoneAfterGets = 100;
    h.api.failures.get = Array.from(
      { length: 10 },
      () => () => new ApiFailure(404, 5, 'operation not found'),
    );
    const result = await startRun(
      { request: { ...REQUEST, dockerId: 'img1' }, trigger: 'http', dedupe: viaKey('k') },
      h.deps,
    );
    assert.equal(result.record.status, 'FAILED');
    assert.equal(result.record.error?.code, 5);
    assert.equal(h.api.count('execute'), 0);
    assert.ok(h.api.count('get') >= 2, 'the early 404s were tolerated');
  });
});
