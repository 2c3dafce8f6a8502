import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { executeKeyFor, runIdFor } from '../../shared/core/run-identity.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { isRunnerError, RunnerError } from '../../shared/errors.ts';
import { ApiFailure, harness, REQUEST } from './core-fixtures.ts';

const viaKey = (key: string) => ({ kind: 'key', key }) as const;

describe('startRun', () => {
  it('claims the key, calls Execute with the derived Idempotency-Key and records the run as RUNNING', async () => {
    const h = harness();
    const result = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('k1') }, h.deps);
    assert.equal(result.outcome, 'started');
    assert.equal(result.record.status, 'RUNNING');
    assert.equal(result.record.runId, runIdFor('key:k1'));
    assert.equal(result.record.operationId, 'op1');
    assert.equal(
      result.record.nextCheckAt,
      h.clock.now().toISOString(),
      'due at the first sweep after the start',
    );
    assert.equal(result.record.deadline, new Date(h.clock.ms + 86400_000).toISOString());
    assert.deepEqual(h.api.calls, [
      {
        rpc: 'execute',
        idempotencyKey: executeKeyFor('key:k1'),
        body: { projectId: 'p1', notebookId: REQUEST.notebookId },
      },
    ]);
    assert.match(
      executeKeyFor('key:k1'),
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const stored = await h.ledger.get(result.record.runId);
    assert.equal(stored?.status, 'RUNNING');
    assert.equal(h.logged('run status changed').length, 1);
  });

  it('passes every request field to Execute and uses timeoutSeconds for the deadline', async () => {
    const h = harness();
    const request = {
      ...REQUEST,
      inputVariables: { A: 1, B: 'x', C: true },
      outputVariableNames: ['out'],
      spec: 'c1.8',
      sparkConnectorId: 'spark1',
      timeoutSeconds: 60,
    };
    const result = await startRun({ request, trigger: 'http', dedupe: viaKey('k') }, h.deps);
    assert.deepEqual(h.api.calls[0]?.body, {
      projectId: 'p1',
      notebookId: REQUEST.notebookId,
      inputVariables: { A: 1, B: 'x', C: true },
      outputVariableNames: ['out'],
      spec: 'c1.8',
      sparkConnectorId: 'spark1',
    });
    assert.equal(result.record.deadline, new Date(h.clock.ms + 60_000).toISOString());
  });

  it('answers the same run for a repeated key and starts nothing', async () => {
    const h = harness();
    const first = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('same') }, h.deps);
    const second = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('same') }, h.deps);
    assert.equal(second.outcome, 'existing');
    assert.equal(second.record.runId, first.record.runId);
    assert.equal(h.api.count('execute'), 1);
  });

  it('starts one run for many concurrent deliveries of one key', async () => {
    const h = harness();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        startRun({ request: REQUEST, trigger: 'queue', dedupe: viaKey('burst') }, h.deps),
      ),
    );
    assert.equal(h.api.count('execute'), 1);
    assert.equal(new Set(results.map((r) => r.record.runId)).size, 1);
    assert.equal(results.filter((r) => r.outcome === 'started').length, 1);
  });

  it('refuses the same key with a different request', async () => {
    const h = harness();
    await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('k') }, h.deps);
    await assert.rejects(
      startRun(
        { request: { ...REQUEST, notebookId: 'other.ipynb' }, trigger: 'http', dedupe: viaKey('k') },
        h.deps,
      ),
      (error: unknown) =>
        isRunnerError(error) &&
        error.code === 'IDEMPOTENCY_KEY_REUSED' &&
        /idempotencyKey/.test(error.message),
    );
    assert.equal(h.api.count('execute'), 1);
  });

  it('refuses a project outside ALLOWED_PROJECTS before any API or ledger call', async () => {
    const h = harness({ settings: { allowedProjects: new Set(['other']) } });
    await assert.rejects(
      startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('k') }, h.deps),
      (error: unknown) => isRunnerError(error) && error.code === 'PROJECT_NOT_ALLOWED',
    );
    assert.equal(h.api.calls.length, 0);
    assert.deepEqual(await h.ledger.listOpen(), []);
  });

  it('with concurrency skip, refuses while a run of the same project and notebook is running', async () => {
    const h = harness();
    const first = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('a') }, h.deps);
    await assert.rejects(
      startRun(
        { request: { ...REQUEST, concurrency: 'skip' }, trigger: 'http', dedupe: viaKey('b') },
        h.deps,
      ),
      (error: unknown) =>
        isRunnerError(error) &&
        error.code === 'RUN_ALREADY_RUNNING' &&
        (error.details?.run as { runId?: string } | undefined)?.runId === first.record.runId,
    );
    const other = await startRun(
      {
        request: { ...REQUEST, notebookId: 'other.ipynb', concurrency: 'skip' },
        trigger: 'http',
        dedupe: viaKey('c'),
      },
      h.deps,
    );
    assert.equal(other.outcome, 'started');
  });

  it('records a start the API rejects as FAILED, reports it once and does not retry it', async () => {
    const h = harness();
    h.api.failures.execute = [() => new ApiFailure(403, 7, 'Permission denied')];
    const result = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('k') }, h.deps);
    assert.equal(result.outcome, 'rejected');
    assert.equal(result.record.status, 'FAILED');
    assert.deepEqual(result.record.error?.code, 7);
    assert.match(String(result.record.error?.message), /Permission denied/);
    assert.equal(h.logged('run finished').length, 1);
    const again = await startRun({ request: REQUEST, trigger: 'http', dedupe: viaKey('k') }, h.deps);
    assert.equal(again.outcome, 'existing');
    assert.equal(h.api.count('execute'), 1);
  });

  it('leaves a transient failure STARTING and retries it with the same Idempotency-Key', async () => {
    const h = harness();
    h.api.failures.execute = [() => new ApiFailure(503, 14, 'unavailable')];
    await assert.rejects(startRun({ request: REQUEST, trigger: 'queue', dedupe: viaKey('k') }, h.deps));
    const runId = runIdFor('key:k');
    assert.equal((await h.ledger.get(runId))?.status, 'STARTING');
    const retried = await startRun({ request: REQUEST, trigger: 'queue', dedupe: viaKey('k') }, h.deps);
    assert.equal(retried.outcome, 'started');
    const keys = h.api.calls.filter((c) => c.rpc === 'execute').map((c) => c.idempotencyKey);
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
  });

  it('after a crash between Execute and the ledger write, a redelivery gets the same operation, not a second run', async () => {
    const h = harness({ settings: { startRecoverySeconds: 60 } });
    const realUpdate = h.ledger.update.bind(h.ledger);
    let crash = true;
    h.ledger.update = async (record) => {
      if (crash && record.status === 'RUNNING') {
        crash = false;
        throw new RunnerError('LEDGER_ERROR', 'disk vanished');
      }
      return realUpdate(record);
    };
    await assert.rejects(startRun({ request: REQUEST, trigger: 'queue', dedupe: viaKey('k') }, h.deps));
    h.clock.advance(61);
    const redelivered = await startRun({ request: REQUEST, trigger: 'queue', dedupe: viaKey('k') }, h.deps);
    assert.equal(redelivered.record.status, 'RUNNING');
    assert.equal(redelivered.record.operationId, 'op1');
    assert.equal([...h.api.operations.values()].filter((op) => op.kind === 'execute').length, 1);
  });

  it('answers pending, without calling Execute, while another delivery holds the start', async () => {
    const h = harness();
    h.api.failures.execute = [() => new ApiFailure(503, 14, 'unavailable')];
    await assert.rejects(startRun({ request: REQUEST, trigger: 'queue', dedupe: viaKey('k') }, h.deps));
    // The failed attempt released its lease, so a retry may start at once: take the lease by hand.
    const record = await h.ledger.get(runIdFor('key:k'));
    assert.ok(record);
    await h.ledger.update({ ...record, nextCheckAt: new Date(h.clock.ms + 60_000).toISOString() });
    const result = await startRun({ request: REQUEST, trigger: 'queue', dedupe: viaKey('k') }, h.deps);
    assert.equal(result.outcome, 'pending');
    assert.equal(h.api.count('execute'), 1);
  });

  it('activates the Docker image, waits for it, then executes', async () => {
    const h = harness();
    h.api.activateDoneAfterGets = 2;
    const result = await startRun(
      { request: { ...REQUEST, dockerId: 'img1' }, trigger: 'http', dedupe: viaKey('k') },
      h.deps,
    );
    assert.equal(result.record.status, 'RUNNING');
    assert.deepEqual(
      h.api.calls.map((c) => c.rpc),
      ['activate', 'get', 'get', 'execute'],
    );
    assert.deepEqual(h.api.calls[0]?.body, { projectId: 'p1', dockerId: 'img1' });
    assert.equal(
      (h.api.calls[3]?.body as Record<string, unknown> | undefined)?.dockerId,
      undefined,
      'dockerId is not an Execute field',
    );
  });

  it('fails the run when the Docker image activation fails', async () => {
    const h = harness();
    h.api.failures.activate = [() => new ApiFailure(400, 3, 'no such image')];
    const result = await startRun(
      { request: { ...REQUEST, dockerId: 'missing' }, trigger: 'http', dedupe: viaKey('k') },
      h.deps,
    );
    assert.equal(result.record.status, 'FAILED');
    assert.equal(h.api.count('execute'), 0);
  });
});
