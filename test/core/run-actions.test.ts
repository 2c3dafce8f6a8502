// Open and Activate as run actions (issue #10 item 1) through the core: start, sweep, deadline, cancel,
// crash recovery and concurrency, against the fake APIs with real Idempotency-Key semantics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyMessage, Operation } from '../../shared/api/protojson.ts';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import { getRun } from '../../shared/core/get-run.ts';
import { outcomeFields, outcomeOf, shownUrl } from '../../shared/core/operation-outcome.ts';
import { activateKeyFor, executeKeyFor, runIdFor, startKeyFor } from '../../shared/core/run-identity.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { ApiFailure, harness, REQUEST } from './core-fixtures.ts';

const OPEN: RunRequest = { action: 'open', projectId: 'p1' };
const ACTIVATE: RunRequest = { action: 'activate', projectId: 'p1', dockerId: 'img1' };
const viaKey = (key: string) => ({ kind: 'key', key }) as const;
const OPEN_RESPONSE = {
  '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse',
  projectUrl: 'https://datasphere.yandex.cloud/communities/c1/projects/p1',
};
const EMPTY = { '@type': 'type.googleapis.com/google.protobuf.Empty' };

const op = (fields: Partial<Operation<AnyMessage, AnyMessage>>): Operation<AnyMessage, AnyMessage> => ({
  id: 'op1',
  done: true,
  ...fields,
});

describe('outcomeOf for open and activate', () => {
  it('an Open done with a response is SUCCEEDED with result.projectUrl and no executionStatus', () => {
    const outcome = outcomeOf(op({ response: OPEN_RESPONSE }), 'open');
    assert.deepEqual(outcome, {
      done: true,
      status: 'SUCCEEDED',
      result: { projectUrl: OPEN_RESPONSE.projectUrl },
    });
    assert.equal(
      outcomeFields(outcome as Extract<typeof outcome, { done: true }>).executionStatus,
      undefined,
    );
  });

  it('an Activate done with google.protobuf.Empty is SUCCEEDED without a result', () => {
    assert.deepEqual(outcomeOf(op({ response: EMPTY }), 'activate'), { done: true, status: 'SUCCEEDED' });
  });

  it('an Open or Activate done with an error is FAILED, or CANCELLED for code 1', () => {
    for (const action of ['open', 'activate'] as const) {
      const failed = outcomeOf(op({ error: { code: 13, message: 'no VM' } }), action);
      assert.deepEqual(failed, { done: true, status: 'FAILED', error: { code: 13, message: 'no VM' } });
      const cancelled = outcomeOf(op({ error: { code: 1, message: 'Operation cancelled' } }), action);
      assert.equal(cancelled.done && cancelled.status, 'CANCELLED');
    }
  });

  it('done with neither a response nor an error is FAILED, result unknown; not done is still running', () => {
    for (const action of ['open', 'activate'] as const) {
      const outcome = outcomeOf(op({}), action);
      assert.equal(outcome.done && outcome.status, 'FAILED');
      assert.equal(outcome.done && outcome.error?.code, 'RESULT_UNKNOWN');
      assert.deepEqual(outcomeOf(op({ done: false }), action), { done: false });
    }
  });

  it('an Execute response read as an Open (a wrong @type) keeps no result', () => {
    const response = {
      '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionResponse',
      executionStatus: 'OK',
    };
    assert.deepEqual(outcomeOf(op({ response }), 'open'), { done: true, status: 'SUCCEEDED' });
  });

  it('keeps a project URL as it is, and strips any credential a URL might carry', () => {
    const plain = 'https://datasphere.yandex.cloud/communities/c1/projects/p1?tab=files#cell-3';
    assert.equal(shownUrl(plain), plain);
    assert.equal(
      shownUrl('https://user:pw@ide.example/p1?sessionToken=SECRET&tab=files&access_token=X#token=Y'),
      'https://ide.example/p1?tab=files',
    );
    assert.equal(shownUrl('javascript:alert(1)'), undefined);
    assert.equal(shownUrl('not a url'), undefined);
    const outcome = outcomeOf(
      op({ response: { ...OPEN_RESPONSE, projectUrl: 'https://ide.example/p1?token=SECRET' } }),
      'open',
    );
    assert.deepEqual(outcome.done && outcome.result, { projectUrl: 'https://ide.example/p1' });
  });
});

describe('run identity per action', () => {
  it('each action derives its own Idempotency-Key from the same dedupe key', () => {
    const keys = [
      startKeyFor('execute', 'key:k'),
      startKeyFor('open', 'key:k'),
      startKeyFor('activate', 'key:k'),
      activateKeyFor('key:k'),
      runIdFor('key:k'),
    ];
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(startKeyFor('execute', 'key:k'), executeKeyFor('key:k'));
    assert.equal(startKeyFor('open', 'key:k'), startKeyFor('open', 'key:k'));
  });
});

describe('an open run', () => {
  it('is claimed, opened with its own key, swept to SUCCEEDED with the project URL, and reported once', async () => {
    const h = harness();
    const started = await startRun({ request: OPEN, trigger: 'http', dedupe: viaKey('o1') }, h.deps);
    assert.equal(started.outcome, 'started');
    const run = started.record;
    assert.equal(run.status, 'RUNNING');
    assert.equal(run.action, 'open');
    assert.equal(run.notebookId, undefined);
    assert.deepEqual(h.api.calls, [
      { rpc: 'open', idempotencyKey: startKeyFor('open', 'key:o1'), body: { projectId: 'p1' } },
    ]);
    await sweep(h.deps);
    assert.equal((await h.ledger.get(run.runId))?.status, 'RUNNING');
    h.api.respond(run.operationId ?? '', OPEN_RESPONSE);
    h.clock.advance(20);
    await sweep(h.deps);
    const done = (await h.ledger.get(run.runId)) as RunRecord;
    assert.equal(done.status, 'SUCCEEDED');
    assert.deepEqual(done.result, { projectUrl: OPEN_RESPONSE.projectUrl });
    assert.equal(done.executionStatus, undefined);
    assert.equal(done.checks, 2);
    assert.deepEqual(
      done.events?.map((event) => [event.type, event.detail]),
      [
        ['claimed', undefined],
        ['started', run.operationId],
        ['finished', 'SUCCEEDED'],
        ['reported', 'log'],
      ],
    );
    const reports = h.logged('run finished');
    assert.equal(reports.length, 1);
    assert.equal(reports[0]?.action, 'open');
    assert.deepEqual((reports[0]?.run as Record<string, unknown> | undefined)?.result, {
      projectUrl: OPEN_RESPONSE.projectUrl,
    });
    assert.equal(h.api.count('open'), 1);
  });

  it('an Open that fails is FAILED with the error; a status call refreshes it like an execute run', async () => {
    const h = harness();
    const { record } = await startRun({ request: OPEN, trigger: 'queue', dedupe: viaKey('o2') }, h.deps);
    h.api.finish(record.operationId ?? '', { code: 9, message: 'project is being deleted' });
    const refreshed = await getRun({ runId: record.runId }, h.deps);
    assert.equal(refreshed.status, 'FAILED');
    assert.deepEqual(refreshed.error, { code: 9, message: 'project is being deleted' });
    assert.equal(refreshed.result, undefined);
  });

  it('Operation.Get answering 404 right after the Open is not a failure (the same grace as execute)', async () => {
    const h = harness({ settings: { notFoundGraceSeconds: 300 } });
    const { record } = await startRun({ request: OPEN, trigger: 'http', dedupe: viaKey('o404') }, h.deps);
    h.api.hidden.add(record.operationId ?? '');
    await sweep(h.deps);
    const during = (await h.ledger.get(record.runId)) as RunRecord;
    assert.equal(during.status, 'RUNNING');
    assert.equal(during.notFoundCount, 1);
    h.api.hidden.clear();
    h.api.respond(record.operationId ?? '', OPEN_RESPONSE);
    h.clock.advance(20);
    await sweep(h.deps);
    assert.equal((await h.ledger.get(record.runId))?.status, 'SUCCEEDED');
  });

  it('a rejected Open (4xx) leaves a FAILED run with the API code, not retried', async () => {
    const h = harness();
    h.api.failures.open = [() => new ApiFailure(404, 5, 'Project p1 not found', false)];
    const result = await startRun({ request: OPEN, trigger: 'http', dedupe: viaKey('o3') }, h.deps);
    assert.equal(result.outcome, 'rejected');
    assert.equal(result.record.status, 'FAILED');
    assert.equal(result.record.error?.code, 5);
    assert.equal(h.api.count('open'), 1);
  });

  it('past its deadline: Operation.Cancel, TIMED_OUT at once, the timeline says why', async () => {
    const h = harness();
    const { record } = await startRun(
      { request: { ...OPEN, timeoutSeconds: 30 }, trigger: 'timer', dedupe: viaKey('o4') },
      h.deps,
    );
    h.clock.advance(31);
    await sweep(h.deps);
    const ended = (await h.ledger.get(record.runId)) as RunRecord;
    assert.equal(ended.status, 'TIMED_OUT');
    assert.equal(ended.cancelReason, 'deadline');
    assert.equal(h.api.count('cancel'), 1);
    const types = ended.events?.map((event) => `${event.type}:${event.detail ?? ''}`);
    assert.deepEqual(types, [
      'claimed:',
      `started:${record.operationId}`,
      'cancel-requested:deadline',
      'finished:TIMED_OUT',
      'reported:log',
    ]);
  });

  it('cancelled on request: CANCELLED once the operation ends with code 1', async () => {
    const h = harness();
    const { record } = await startRun({ request: OPEN, trigger: 'http', dedupe: viaKey('o5') }, h.deps);
    const asked = await cancelRun({ runId: record.runId }, h.deps);
    assert.equal(asked.status, 'RUNNING');
    assert.equal(asked.cancelReason, 'user');
    h.api.finish(record.operationId ?? '', { code: 1, message: 'Operation cancelled' });
    await sweep(h.deps);
    const ended = (await h.ledger.get(record.runId)) as RunRecord;
    assert.equal(ended.status, 'CANCELLED');
    assert.equal(ended.events?.filter((event) => event.type === 'cancel-requested').length, 1);
    // A second cancel of the ended run changes nothing.
    await assert.rejects(
      cancelRun({ runId: record.runId }, h.deps),
      (error) => isRunnerError(error) && error.code === 'RUN_ALREADY_FINISHED',
    );
  });

  it('a starter that dies after Open took effect: the sweep re-drives it with the same key and finds the one operation', async () => {
    const inner = createInMemoryLedger();
    let failUpdates = 0;
    const ledger: RunLedger = {
      ...inner,
      update: async (record) => {
        if (failUpdates > 0) {
          failUpdates--;
          throw new Error('the starter died here');
        }
        return inner.update(record);
      },
    };
    const h = harness({ ledger, settings: { startRecoverySeconds: 60 } });
    // The Open reaches DataSphere, then the ledger write that would record it (and the lease release) fail.
    failUpdates = 2;
    await assert.rejects(startRun({ request: OPEN, trigger: 'queue', dedupe: viaKey('o6') }, h.deps));
    const runId = runIdFor('key:o6');
    const claim = (await ledger.get(runId)) as RunRecord;
    assert.equal(claim.status, 'STARTING');
    assert.equal(typeof claim.startSentAt, 'string', 'the claim says the Open may have been sent');
    // Still leased: a sweep leaves it alone.
    await sweep(h.deps);
    assert.equal(h.api.count('open'), 1);
    h.clock.advance(61);
    await sweep(h.deps);
    const recovered = (await ledger.get(runId)) as RunRecord;
    assert.equal(recovered.status, 'RUNNING');
    assert.equal(h.api.count('open'), 2);
    const keys = h.api.calls.filter((call) => call.rpc === 'open').map((call) => call.idempotencyKey);
    assert.deepEqual(keys, [startKeyFor('open', 'key:o6'), startKeyFor('open', 'key:o6')]);
    assert.equal([...h.api.operations.values()].filter((o) => o.kind === 'open').length, 1, 'one operation');
    assert.ok(recovered.events?.some((event) => event.type === 'start-recovered'));
  });

  it('a claim of unknown outcome that is cancelled is re-driven and its operation cancelled, never ended blind', async () => {
    const h = harness({ settings: { startRecoverySeconds: 60 } });
    h.api.failures.open = [() => new ApiFailure(503, 14, 'unavailable')];
    await assert.rejects(startRun({ request: OPEN, trigger: 'http', dedupe: viaKey('o7') }, h.deps));
    const runId = runIdFor('key:o7');
    // A 503 may still have taken effect: the claim is "maybe sent".
    assert.equal(typeof (await h.ledger.get(runId))?.startSentAt, 'string');
    const asked = await cancelRun({ runId }, h.deps);
    assert.equal(asked.status, 'STARTING', 'not "cancelled before it started"');
    await sweep(h.deps);
    const ended = (await h.ledger.get(runId)) as RunRecord;
    assert.equal(h.api.count('open'), 2);
    assert.equal(h.api.count('cancel'), 1);
    assert.equal(typeof ended.operationId, 'string');
  });
});

describe('an activate run', () => {
  it('activates dockerId in projectId with its own key and ends SUCCEEDED on Empty', async () => {
    const h = harness();
    h.api.activateDoneAfterGets = 1000;
    const { record } = await startRun({ request: ACTIVATE, trigger: 'http', dedupe: viaKey('a1') }, h.deps);
    assert.deepEqual(h.api.calls[0], {
      rpc: 'activate',
      idempotencyKey: startKeyFor('activate', 'key:a1'),
      body: { projectId: 'p1', dockerId: 'img1' },
    });
    assert.equal(record.status, 'RUNNING');
    assert.equal(record.action, 'activate');
    assert.equal(typeof record.startSentAt, 'string', 'the Activate is the start call itself');
    assert.equal(h.api.count('get'), 0, 'no activation wait: the sweep follows it');
    h.api.respond(record.operationId ?? '', EMPTY);
    await sweep(h.deps);
    const done = (await h.ledger.get(record.runId)) as RunRecord;
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.result, undefined);
    assert.equal(done.executionStatus, undefined);
    assert.equal(h.api.count('execute'), 0);
  });

  it('an Activate answered done at once is SUCCEEDED by the start itself', async () => {
    const h = harness();
    h.api.activateDoneAfterGets = 0;
    const { record } = await startRun({ request: ACTIVATE, trigger: 'http', dedupe: viaKey('a2') }, h.deps);
    assert.equal(h.api.calls[0]?.rpc, 'activate');
    assert.equal(record.status, 'SUCCEEDED');
    assert.equal(h.api.count('get'), 0);
    assert.equal(h.logged('run finished').length, 1);
  });

  it('an Activate that fails is FAILED; one cancelled (code 1) is CANCELLED', async () => {
    const h = harness();
    h.api.activateDoneAfterGets = 5;
    const a = (await startRun({ request: ACTIVATE, trigger: 'http', dedupe: viaKey('a3') }, h.deps)).record;
    const b = (
      await startRun(
        { request: { ...ACTIVATE, dockerId: 'img2' }, trigger: 'http', dedupe: viaKey('a4') },
        h.deps,
      )
    ).record;
    h.api.finish(a.operationId ?? '', { code: 13, message: 'image broken' });
    h.api.finish(b.operationId ?? '', { code: 1, message: 'Operation cancelled' });
    await sweep(h.deps);
    assert.equal((await h.ledger.get(a.runId))?.status, 'FAILED');
    assert.equal((await h.ledger.get(b.runId))?.status, 'CANCELLED');
  });

  it('an execute with dockerId still activates first (activation key), then executes', async () => {
    const h = harness();
    const { record } = await startRun(
      { request: { ...REQUEST, dockerId: 'img1' }, trigger: 'http', dedupe: viaKey('e1') },
      h.deps,
    );
    assert.deepEqual(
      h.api.calls.map((call) => [call.rpc, call.idempotencyKey]),
      [
        ['activate', activateKeyFor('key:e1')],
        ['execute', executeKeyFor('key:e1')],
      ],
    );
    assert.equal(record.action, undefined);
    assert.equal(record.status, 'RUNNING');
  });
});

describe('concurrency scopes of open and activate', () => {
  it('skip: a second Open of a project is refused, an execute or an Open of another project is not', async () => {
    const h = harness();
    const first = await startRun(
      { request: { ...OPEN, concurrency: 'skip' }, trigger: 'http', dedupe: viaKey('s1') },
      h.deps,
    );
    assert.equal(first.record.concurrencyScope, 'open:p1');
    await assert.rejects(
      startRun({ request: { ...OPEN, concurrency: 'skip' }, trigger: 'http', dedupe: viaKey('s2') }, h.deps),
      (error) =>
        isRunnerError(error) &&
        error.code === 'RUN_ALREADY_RUNNING' &&
        error.message.includes(`run ${first.record.runId} of the Open of p1`),
    );
    const execute = await startRun(
      { request: { ...REQUEST, concurrency: 'skip' }, trigger: 'http', dedupe: viaKey('s3') },
      h.deps,
    );
    assert.equal(execute.outcome, 'started');
    const other = await startRun(
      {
        request: { action: 'open', projectId: 'p2', concurrency: 'skip' },
        trigger: 'http',
        dedupe: viaKey('s4'),
      },
      h.deps,
    );
    assert.equal(other.outcome, 'started');
  });

  it('skip: any activation in the project blocks another (one active image per project)', async () => {
    const h = harness();
    h.api.activateDoneAfterGets = 5;
    const first = await startRun(
      { request: { ...ACTIVATE, concurrency: 'skip' }, trigger: 'http', dedupe: viaKey('d1') },
      h.deps,
    );
    assert.equal(first.record.concurrencyScope, 'docker:p1');
    await assert.rejects(
      startRun(
        {
          request: { ...ACTIVATE, dockerId: 'img2', concurrency: 'skip' },
          trigger: 'http',
          dedupe: viaKey('d2'),
        },
        h.deps,
      ),
      (error) => isRunnerError(error) && error.code === 'RUN_ALREADY_RUNNING',
    );
    // An "allow" Open in flight does not block a skip activation (another scope).
    await startRun({ request: OPEN, trigger: 'http', dedupe: viaKey('d3') }, h.deps);
    h.api.respond(first.record.operationId ?? '', EMPTY);
    await sweep(h.deps);
    const after = await startRun(
      {
        request: { ...ACTIVATE, dockerId: 'img2', concurrency: 'skip' },
        trigger: 'http',
        dedupe: viaKey('d4'),
      },
      h.deps,
    );
    assert.equal(after.outcome, 'started');
  });

  it('skip: an "allow" Open still running counts for a skip Open of the same project', async () => {
    const h = harness();
    const running = await startRun({ request: OPEN, trigger: 'http', dedupe: viaKey('u1') }, h.deps);
    await assert.rejects(
      startRun({ request: { ...OPEN, concurrency: 'skip' }, trigger: 'http', dedupe: viaKey('u2') }, h.deps),
      (error) => isRunnerError(error) && error.message.includes(running.record.runId),
    );
  });
});

describe('the run timeline of an execute run', () => {
  it('records claimed, started, finished and reported in the writes that make them, and nothing else', async () => {
    const h = harness();
    const { record } = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('t1') }, h.deps);
    assert.equal(record.version, 2, 'claim + RUNNING: the timeline added no write');
    h.api.finish(record.operationId ?? '', 'OK');
    await sweep(h.deps);
    const done = (await h.ledger.get(record.runId)) as RunRecord;
    assert.deepEqual(
      done.events?.map((event) => event.type),
      ['claimed', 'started', 'finished', 'reported'],
    );
    assert.equal(done.events?.[0]?.at, done.createdAt);
    assert.equal(done.events?.[2]?.at, done.finishedAt);
    assert.equal(done.events?.[3]?.at, done.reportedAt);
  });
});

describe('what a run of each action costs (per-minute sweeps, default check schedule)', () => {
  /**
   * Starts a run at 10:00:00, lets the operation end `seconds` later and sweeps once a minute until
   * the run has ended and been reported; counts API calls and ledger writes.
   */
  async function costOf(
    request: RunRequest,
    seconds: number,
    end: (h: ReturnType<typeof harness>, id: string) => void,
  ) {
    const inner = createInMemoryLedger();
    let writes = 0;
    const ledger: RunLedger = {
      ...inner,
      create: (record) => {
        writes++;
        return inner.create(record);
      },
      update: (record) => {
        writes++;
        return inner.update(record);
      },
    };
    const h = harness({ ledger, settings: { checkFirstDelaySeconds: 0 } });
    h.api.activateDoneAfterGets = 1_000_000;
    const t0 = h.clock.ms;
    const { record } = await startRun({ request, trigger: 'http', dedupe: viaKey('cost') }, h.deps);
    let ended = false;
    for (let minute = 1; minute <= 10; minute++) {
      h.clock.ms = t0 + minute * 60_000;
      if (!ended && h.clock.ms - t0 >= seconds * 1000) {
        end(h, record.operationId ?? '');
        ended = true;
      }
      await sweep(h.deps);
      const now = (await ledger.get(record.runId)) as RunRecord;
      if (now.reportedAt !== undefined && now.nextCheckAt === undefined) break;
    }
    const done = (await ledger.get(record.runId)) as RunRecord;
    const count = (rpc: string) => h.api.count(rpc);
    return {
      status: done.status,
      calls: {
        start: count('open') + count('activate') + count('execute'),
        get: count('get'),
        cancel: count('cancel'),
      },
      writes,
    };
  }

  it('an Open of 90 s: 1 Open, 2 Operation.Get, 5 ledger writes', async () => {
    const cost = await costOf(OPEN, 90, (h, id) => h.api.respond(id, OPEN_RESPONSE));
    assert.deepEqual(cost, { status: 'SUCCEEDED', calls: { start: 1, get: 2, cancel: 0 }, writes: 5 });
  });

  it('an Activate of 30 s: 1 Activate, 1 Operation.Get, 4 ledger writes (no wait inside the start)', async () => {
    const cost = await costOf(ACTIVATE, 30, (h, id) => h.api.respond(id, EMPTY));
    assert.deepEqual(cost, { status: 'SUCCEEDED', calls: { start: 1, get: 1, cancel: 0 }, writes: 4 });
  });

  it('an execute of 90 s, for comparison: 1 Execute, 2 Operation.Get, 5 ledger writes', async () => {
    const cost = await costOf(REQUEST, 90, (h, id) => h.api.finish(id, 'OK'));
    assert.deepEqual(cost, { status: 'SUCCEEDED', calls: { start: 1, get: 2, cancel: 0 }, writes: 5 });
  });
});
