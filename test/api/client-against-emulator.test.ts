import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../local/emulator/emulator.ts';
import { ApiError } from '../../shared/api/api-error.ts';
import { DataSphereClient, type OpenPathStyle } from '../../shared/api/datasphere-client.ts';
import { createDispatcher } from '../../shared/api/undici-dispatcher.ts';
import { createHttpTransport } from '../../shared/api/http-transport.ts';
import { OperationClient } from '../../shared/api/operation-client.ts';
import { EXECUTE_PAYLOADS } from '../../shared/api/protojson.ts';
import { createRetryPolicy } from '../../shared/api/retry-policy.ts';
import { staticTokenSource } from '../../shared/api/token-source.ts';

const TOKEN = 't1.emulator-test-token';
const NOTEBOOK = '/home/jupyter/datasphere/project/daily_report.ipynb';

interface Rig {
  emulator: Emulator;
  dispatcher: Dispatcher;
  datasphere: DataSphereClient;
  operations: OperationClient;
  sleeps: number[];
}

let rig: Rig | undefined;

/** A fresh emulator on port 0 and clients on a real keep-alive Agent; sleeps are recorded, not slept. */
async function start(
  options: EmulatorOptions = {},
  client: { timeoutMs?: number; maxAttempts?: number; token?: string; openPathStyle?: OpenPathStyle } = {},
): Promise<Rig> {
  const emulator = await startEmulator({ token: TOKEN, durationMs: 60_000, ...options });
  const dispatcher = createDispatcher({ keepAliveTimeoutMs: 1_000 });
  const sleeps: number[] = [];
  const transport = createHttpTransport({
    dispatcher,
    token: staticTokenSource(client.token ?? TOKEN),
    timeoutMs: client.timeoutMs ?? 5_000,
    retry: createRetryPolicy({ maxAttempts: client.maxAttempts ?? 4, random: () => 0 }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  rig = {
    emulator,
    dispatcher,
    sleeps,
    datasphere: new DataSphereClient({
      transport,
      endpoint: emulator.url,
      ...(client.openPathStyle ? { openPathStyle: client.openPathStyle } : {}),
    }),
    operations: new OperationClient({ transport, endpoint: emulator.url }),
  };
  return rig;
}

afterEach(async () => {
  if (!rig) return;
  const { emulator, dispatcher } = rig;
  rig = undefined;
  await emulator.close();
  await dispatcher.close();
});

function execute(r: Rig, key = 'key-1', projectId = 'p1') {
  return r.datasphere.execute(
    projectId,
    { notebookId: NOTEBOOK, inputVariables: { MODE: 'full' } },
    { idempotencyKey: key },
  );
}

describe('clients against the emulator: every method', () => {
  it('starts a run, follows it with Get and reads OK when it finishes', async () => {
    const r = await start();
    const started = await execute(r);
    assert.equal(started.done, false);
    assert.equal(started.metadata?.projectId, 'p1');
    assert.equal(started.metadata?.notebookId, NOTEBOOK);
    const running = await r.operations.get(started.id, { payloads: EXECUTE_PAYLOADS });
    assert.equal(running.done, false);
    r.emulator.finish(started.id);
    const done = await r.operations.get(started.id, { payloads: EXECUTE_PAYLOADS });
    assert.equal(done.done, true);
    assert.equal(done.response?.executionStatus, 'OK');
    assert.ok(done.createdAt);
  });

  it('reads the ERROR and ABORTED statuses and an operation error', async () => {
    const r = await start();
    r.emulator.plan({ projectId: 'p-err', outcome: 'ERROR' });
    r.emulator.plan({ projectId: 'p-abort', outcome: 'ABORTED' });
    r.emulator.plan({ projectId: 'p-operr', outcome: 'OPERATION_ERROR' });
    for (const [projectId, status] of [
      ['p-err', 'ERROR'],
      ['p-abort', 'ABORTED'],
    ] as const) {
      const op = await execute(r, `key-${projectId}`, projectId);
      r.emulator.finish(op.id);
      const done = await r.operations.get(op.id, { payloads: EXECUTE_PAYLOADS });
      assert.equal(done.response?.executionStatus, status);
    }
    const op = await execute(r, 'key-operr', 'p-operr');
    r.emulator.finish(op.id);
    const failed = await r.operations.get(op.id, { payloads: EXECUTE_PAYLOADS });
    assert.equal(failed.done, true);
    assert.equal(failed.response, undefined);
    assert.equal(typeof failed.error?.code, 'number');
  });

  it('opens a project on :open', async () => {
    const r = await start();
    const op = await r.datasphere.openProject('p1', { idempotencyKey: 'open-1' });
    assert.equal(op.metadata?.projectId, 'p1');
    assert.equal(r.datasphere.openPathStyle, 'colon');
  });

  it('falls back to /open when only that path is served, and remembers it', async () => {
    const r = await start({ openPath: 'slash' });
    await r.datasphere.openProject('p1', { idempotencyKey: 'open-1' });
    assert.equal(r.datasphere.openPathStyle, 'slash');
    await r.datasphere.openProject('p2', { idempotencyKey: 'open-2' });
    assert.deepEqual(
      r.emulator.requests.map((q) => `${q.path} ${q.status}`),
      [
        '/datasphere/v2/projects/p1:open 404',
        '/datasphere/v2/projects/p1/open 200',
        '/datasphere/v2/projects/p2/open 200',
      ],
    );
  });

  it('gets a project and decodes it', async () => {
    const r = await start();
    const project = await r.datasphere.getProject('p1');
    assert.equal(project.id, 'p1');
    assert.equal(project.settings?.ide, 'JUPYTER_LAB');
    assert.equal(typeof project.limits?.maxUnitsPerHour, 'string');
  });

  it('activates a docker image', async () => {
    const r = await start();
    const op = await r.datasphere.activateDockerImage(
      { projectId: 'p1', dockerId: 'd1' },
      { idempotencyKey: 'act-1' },
    );
    assert.ok(op.id);
    assert.equal(r.emulator.operations().find((o) => o.id === op.id)?.kind, 'activate');
  });

  it('cancels with GET, and falls back to POST when only POST is served', async () => {
    const r = await start();
    const op = await execute(r);
    const cancelled = await r.operations.cancel(op.id);
    assert.equal(cancelled.id, op.id);
    assert.equal(r.operations.cancelMethod, 'GET');
    await r.emulator.close();
    await r.dispatcher.close();
    rig = undefined;

    const r2 = await start({ cancelMethods: 'post' });
    const op2 = await execute(r2);
    await r2.operations.cancel(op2.id);
    assert.equal(r2.operations.cancelMethod, 'POST');
    assert.deepEqual(
      r2.emulator.requests.filter((q) => q.path.endsWith(':cancel')).map((q) => `${q.method} ${q.status}`),
      ['GET 404', 'POST 200'],
    );
  });
});

describe('clients against the emulator: faults', () => {
  it('times out a slow answer per request, retries with the same key, and the emulator holds one operation', async () => {
    const r = await start({}, { timeoutMs: 300 });
    r.emulator.inject({ kind: 'latency', method: 'POST', path: ':execute', latencyMs: 10_000, times: 1 });
    const op = await execute(r, 'key-slow');
    const executes = r.emulator.requests.filter((q) => q.path.endsWith(':execute'));
    assert.equal(executes.length, 2);
    assert.deepEqual(
      executes.map((q) => q.idempotencyKey),
      ['key-slow', 'key-slow'],
    );
    const ops = r.emulator.operations();
    assert.equal(ops.length, 1);
    assert.equal(ops[0]?.id, op.id);
    assert.equal(ops[0]?.idempotencyKey, 'key-slow');
    assert.equal(r.sleeps.length, 1);
  });

  it('gives up with API_TIMEOUT when every attempt is too slow', async () => {
    const r = await start({}, { timeoutMs: 200, maxAttempts: 2 });
    r.emulator.inject({ kind: 'latency', path: '/operations/', latencyMs: 10_000, times: 2 });
    await assert.rejects(r.operations.get('op-x'), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'API_TIMEOUT');
      assert.equal(error.attempts, 2);
      return true;
    });
  });

  it('honours Retry-After on a 429 and then succeeds', async () => {
    const r = await start();
    r.emulator.inject({ kind: 'status', status: 429, retryAfterSeconds: 2, path: ':execute', times: 1 });
    const op = await execute(r);
    assert.ok(op.id);
    assert.deepEqual(r.sleeps, [2000]);
    assert.deepEqual(
      r.emulator.requests.map((q) => q.status),
      [429, 200],
    );
  });

  it('retries a 503 and then succeeds', async () => {
    const r = await start();
    r.emulator.inject({ kind: 'status', status: 503, path: ':execute', times: 1 });
    await execute(r);
    assert.deepEqual(r.sleeps, [250]);
    assert.equal(r.emulator.operations().length, 1);
  });

  it('retries a dropped connection and then succeeds, still with one operation', async () => {
    const r = await start();
    r.emulator.inject({ kind: 'drop', path: ':execute', times: 1 });
    await execute(r, 'key-drop');
    assert.deepEqual(
      r.emulator.requests.map((q) => [q.status, q.idempotencyKey]),
      [
        [0, 'key-drop'],
        [200, 'key-drop'],
      ],
    );
    assert.equal(r.emulator.operations().length, 1);
  });

  it('answers 404 to the first Gets of a fresh operation, not retried, then the operation', async () => {
    const r = await start({ notFoundGetsPerOperation: 2 });
    const op = await execute(r);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(r.operations.get(op.id), {
        code: 'API_ERROR',
        httpStatus: 404,
        rpcName: 'NOT_FOUND',
        attempts: 1,
      });
    }
    const seen = await r.operations.get(op.id);
    assert.equal(seen.id, op.id);
    assert.deepEqual(r.sleeps, []);
  });

  it('turns malformed JSON into API_BAD_RESPONSE', async () => {
    const r = await start();
    r.emulator.inject({ kind: 'malformed', path: '/operations/', times: 1 });
    await assert.rejects(r.operations.get('op-x'), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'API_BAD_RESPONSE');
      assert.equal(error.httpStatus, 200);
      assert.equal(error.attempts, 1);
      assert.match(
        error.message,
        /^Operation Operation\.Get GET \/operations\/op-x failed: 200 with a body that is not JSON/,
      );
      return true;
    });
  });

  it('does not retry a 403: exactly one request reaches the emulator', async () => {
    const r = await start();
    r.emulator.inject({
      kind: 'status',
      status: 403,
      rpcCode: 7,
      message: 'Permission denied',
      path: ':execute',
      times: 3,
    });
    await assert.rejects(execute(r), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.httpStatus, 403);
      assert.equal(error.rpcName, 'PERMISSION_DENIED');
      assert.equal(error.attempts, 1);
      assert.ok(error.requestId, 'the request id is kept');
      assert.ok(error.serverTraceId, 'the server trace id is kept');
      return true;
    });
    assert.equal(r.emulator.requests.length, 1);
    assert.equal(r.emulator.operations().length, 0);
    r.emulator.clearFaults();
  });

  it('reports a wrong token as UNAUTHENTICATED without ever showing a token', async () => {
    const r = await start({}, { token: 't1.wrong-test-token' });
    await assert.rejects(execute(r), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.rpcName, 'UNAUTHENTICATED');
      assert.match(error.message, /IAM token is missing, invalid or expired/);
      const text = `${error.message} ${JSON.stringify(error)}`;
      assert.ok(!text.includes('wrong-test-token'));
      assert.ok(!text.includes('emulator-test-token'));
      return true;
    });
    assert.equal(r.emulator.requests.length, 1);
  });
});
