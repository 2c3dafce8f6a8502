import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../local/emulator/emulator.ts';
import { ApiError } from '../../shared/api/api-error.ts';
import { DataSphereClient, type OpenPathStyle } from '../../shared/api/datasphere-client.ts';
import { createHttpTransport } from '../../shared/api/http-transport.ts';
import { type CancelMethod, OperationClient } from '../../shared/api/operation-client.ts';
import { EXECUTE_PAYLOADS, OPEN_PAYLOADS, openResultOf } from '../../shared/api/protojson.ts';
import { createRetryPolicy } from '../../shared/api/retry-policy.ts';
import { staticTokenSource } from '../../shared/api/token-source.ts';
import { createDispatcher } from '../../shared/api/undici-dispatcher.ts';

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
  client: {
    timeoutMs?: number;
    maxAttempts?: number;
    token?: string;
    openPathStyle?: OpenPathStyle;
    cancelMethod?: CancelMethod;
  } = {},
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
    operations: new OperationClient({
      transport,
      endpoint: emulator.url,
      ...(client.cancelMethod ? { cancelMethod: client.cancelMethod } : {}),
    }),
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

  it('gets a project and decodes it', async () => {
    const r = await start();
    const project = await r.datasphere.getProject('p1');
    assert.equal(project.id, 'p1');
    assert.equal(project.settings?.ide, 'JUPYTER_LAB');
    assert.equal(typeof project.limits?.maxUnitsPerHour, 'string');
  });

  it('activates a docker image: the operation has no metadata and ends with google.protobuf.Empty', async () => {
    const r = await start();
    const op = await r.datasphere.activateDockerImage(
      { projectId: 'p1', dockerId: 'd1' },
      { idempotencyKey: 'act-1' },
    );
    assert.equal(r.emulator.operations().find((o) => o.id === op.id)?.kind, 'activate');
    const done = await r.operations.get(op.id);
    assert.equal(done.done, true);
    assert.equal(done.metadata, undefined);
    assert.deepEqual(done.response, { '@type': 'type.googleapis.com/google.protobuf.Empty' });
    assert.equal(done.error, undefined);
  });
});

const paths = (r: Rig, suffix: string) =>
  r.emulator.requests.filter((q) => q.path.endsWith(suffix)).map((q) => `${q.method} ${q.path} ${q.status}`);

describe('clients against the emulator: Project.Open', () => {
  it('follows an Open through its metadata statuses to projectUrl, and no answer keeps the session token', async () => {
    let clock = Date.parse('2026-11-28T06:00:00Z');
    const r = await start({ now: () => clock, openDurationMs: 3_000 });
    const op = await r.datasphere.openProject('p1', { idempotencyKey: 'open-1' });
    const seen: Array<string | undefined> = [op.metadata?.status];
    for (const step of [1_000, 1_000, 1_000]) {
      clock += step;
      const now = await r.operations.get(op.id, { payloads: OPEN_PAYLOADS });
      seen.push(now.done ? 'done' : now.metadata?.status);
    }
    assert.deepEqual(seen, [
      'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT',
      'OPEN_PROJECT_STATUS_ALLOCATING_VM',
      'OPEN_PROJECT_STATUS_STARTING_IDE',
      'done',
    ]);
    // The emulator does send a session token on the wire…
    const raw = await r.dispatcher.request({
      origin: r.emulator.url,
      path: `/operations/${op.id}`,
      method: 'GET',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const wire = (await raw.body.json()) as { response: { sessionToken?: unknown } };
    assert.equal(typeof wire.response.sessionToken, 'string');
    const secret = String(wire.response.sessionToken);
    // …and no client answer carries it: Get with any decoders, Get with Open's, Cancel of the done Open.
    const answers = [
      await r.operations.get(op.id),
      await r.operations.get(op.id, { payloads: OPEN_PAYLOADS }),
      await r.operations.cancel(op.id),
    ];
    for (const answer of answers) {
      assert.ok(!JSON.stringify(answer).includes(secret), JSON.stringify(answer));
      assert.deepEqual(openResultOf(answer), { projectUrl: `${r.emulator.url}/_emulator/ide/p1` });
    }
  });

  it('closes the IDE first when the project was opened before', async () => {
    let clock = Date.parse('2026-11-28T06:00:00Z');
    const r = await start({ now: () => clock, openDurationMs: 4_000 });
    await r.datasphere.openProject('p1', { idempotencyKey: 'open-1' });
    clock += 4_000;
    const again = await r.datasphere.openProject('p1', { idempotencyKey: 'open-2' });
    assert.equal(again.metadata?.status, 'OPEN_PROJECT_STATUS_CLOSING_IDE');
    clock += 1_000;
    const next = await r.operations.get(again.id, { payloads: OPEN_PAYLOADS });
    assert.equal(next.metadata?.status, 'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT');
  });

  it('against the default emulator (/open only) a default client calls /open once', async () => {
    const r = await start();
    await r.datasphere.openProject('p1', { idempotencyKey: 'open-1' });
    assert.deepEqual(paths(r, 'open'), ['POST /datasphere/v2/projects/p1/open 200']);
    assert.equal(r.datasphere.openPathConfirmed, true);
  });

  it('against the default emulator (/open only) a client starting with :open falls back and remembers /open', async () => {
    const r = await start({}, { openPathStyle: 'colon' });
    await r.datasphere.openProject('p1', { idempotencyKey: 'open-1' });
    await r.datasphere.openProject('p2', { idempotencyKey: 'open-2' });
    assert.equal(r.datasphere.openPathStyle, 'slash');
    assert.deepEqual(paths(r, 'open'), [
      'POST /datasphere/v2/projects/p1:open 404',
      'POST /datasphere/v2/projects/p1/open 200',
      'POST /datasphere/v2/projects/p2/open 200',
    ]);
  });

  it('against an emulator serving :open only, the default client falls back and remembers :open', async () => {
    const r = await start({ openPath: 'colon' });
    await r.datasphere.openProject('p1', { idempotencyKey: 'open-1' });
    await r.datasphere.openProject('p2', { idempotencyKey: 'open-2' });
    assert.equal(r.datasphere.openPathStyle, 'colon');
    assert.deepEqual(paths(r, 'open'), [
      'POST /datasphere/v2/projects/p1/open 404',
      'POST /datasphere/v2/projects/p1:open 200',
      'POST /datasphere/v2/projects/p2:open 200',
    ]);
    assert.equal(r.emulator.operations().length, 2);
  });

  it('a project that does not exist costs one call on the right route and flips nothing', async () => {
    const r = await start({ missingProjects: ['gone'] });
    await assert.rejects(r.datasphere.openProject('gone', { idempotencyKey: 'open-1' }), {
      httpStatus: 404,
      apiMessage: 'Project gone not found',
    });
    assert.deepEqual(paths(r, 'open'), ['POST /datasphere/v2/projects/gone/open 404']);
    assert.equal(r.datasphere.openPathStyle, 'slash');
  });

  it('a project that does not exist, asked on the wrong route first, is reported and remembers nothing', async () => {
    const r = await start({ openPath: 'colon', missingProjects: ['gone'] });
    await assert.rejects(r.datasphere.openProject('gone', { idempotencyKey: 'open-1' }), {
      httpStatus: 404,
      apiMessage: 'Project gone not found',
    });
    assert.equal(r.datasphere.openPathStyle, 'slash');
    assert.equal(r.datasphere.openPathConfirmed, false);
    await r.datasphere.openProject('p1', { idempotencyKey: 'open-2' });
    assert.equal(r.datasphere.openPathStyle, 'colon');
    assert.deepEqual(paths(r, 'open'), [
      'POST /datasphere/v2/projects/gone/open 404',
      'POST /datasphere/v2/projects/gone:open 404',
      'POST /datasphere/v2/projects/p1/open 404',
      'POST /datasphere/v2/projects/p1:open 200',
    ]);
  });
});

describe('clients against the emulator: Operation.Cancel', () => {
  it('against the default emulator (GET only) a default client cancels with one GET', async () => {
    const r = await start();
    const op = await execute(r);
    const cancelled = await r.operations.cancel(op.id);
    assert.equal(cancelled.id, op.id);
    assert.deepEqual(paths(r, ':cancel'), [`GET /operations/${op.id}:cancel 200`]);
    assert.equal(r.operations.cancelMethodConfirmed, true);
  });

  it('against the default emulator (GET only) a client starting with POST falls back and remembers GET', async () => {
    const r = await start({}, { cancelMethod: 'POST' });
    const op = await execute(r);
    await r.operations.cancel(op.id);
    assert.equal(r.operations.cancelMethod, 'GET');
    assert.deepEqual(paths(r, ':cancel'), [
      `POST /operations/${op.id}:cancel 404`,
      `GET /operations/${op.id}:cancel 200`,
    ]);
  });

  it('against an emulator serving POST only, the default client falls back and remembers POST', async () => {
    const r = await start({ cancelMethods: 'post' });
    const op = await execute(r);
    const op2 = await execute(r, 'key-2', 'p2');
    await r.operations.cancel(op.id);
    await r.operations.cancel(op2.id);
    assert.equal(r.operations.cancelMethod, 'POST');
    assert.deepEqual(paths(r, ':cancel'), [
      `GET /operations/${op.id}:cancel 404`,
      `POST /operations/${op.id}:cancel 200`,
      `POST /operations/${op2.id}:cancel 200`,
    ]);
  });

  it('an operation that does not exist costs one GET and flips nothing', async () => {
    const r = await start();
    await assert.rejects(r.operations.cancel('bt1nosuchoperation00'), {
      httpStatus: 404,
      apiMessage: 'Operation bt1nosuchoperation00 not found',
    });
    assert.deepEqual(paths(r, ':cancel'), ['GET /operations/bt1nosuchoperation00:cancel 404']);
    assert.equal(r.operations.cancelMethod, 'GET');
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
