import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import {
  type Emulator,
  type EmulatorOptions,
  type Outcome,
  startEmulator,
} from '../../local/emulator/emulator.ts';

const TOKEN = 't1.test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const NOTEBOOK = '/home/jupyter/datasphere/project/daily_report.ipynb';
const START = Date.parse('2025-06-02T06:00:03.481Z');
const EXECUTION_METADATA = 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionMetadata';
const EXECUTION_RESPONSE = 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionResponse';
const REQUEST_INFO = 'type.googleapis.com/google.rpc.RequestInfo';
const YANDEX_ID = /^[a-z0-9]{20}$/;
const TIMESTAMP_9 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

const agent = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
after(() => agent.close());

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test replies are checked field by field
  json: any;
}

async function call(
  emulator: Emulator,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; auth?: boolean } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.auth === false ? {} : AUTH), ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await request(`${emulator.url}${path}`, {
    method,
    headers,
    dispatcher: agent,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

function execute(
  emulator: Emulator,
  body: unknown = { notebookId: NOTEBOOK },
  headers: Record<string, string> = {},
  projectId = 'p1',
) {
  return call(emulator, 'POST', `/datasphere/v2/projects/${projectId}:execute`, { body, headers });
}

function getOperation(emulator: Emulator, id: string) {
  return call(emulator, 'GET', `/operations/${id}`);
}

function assertRpcError(reply: Reply, status: number, code: number): void {
  assert.equal(reply.status, status, reply.text);
  assert.equal(reply.json.code, code);
  assert.equal(typeof reply.json.message, 'string');
  assert.ok(reply.json.message.length > 0);
  assert.equal(reply.json.details[0]['@type'], REQUEST_INFO);
  assert.equal(reply.json.details[0].requestId, reply.headers['x-request-id']);
}

/** One emulator per describe block, reset before each test, on a clock the test moves. */
function useEmulator(options: EmulatorOptions = {}): {
  emulator: () => Emulator;
  advance: (ms: number) => void;
} {
  let clock = START;
  let instance: Emulator | undefined;
  before(async () => {
    instance = await startEmulator({ durationMs: 1000, cancelDelayMs: 0, now: () => clock, ...options });
  });
  beforeEach(() => {
    clock = START;
    instance?.reset();
  });
  after(() => instance?.close());
  return {
    emulator: () => {
      assert.ok(instance);
      return instance;
    },
    advance: (ms) => {
      clock += ms;
    },
  };
}

describe('Project.Execute', () => {
  const { emulator, advance } = useEmulator();

  it('answers a running Operation with Yandex-shaped ids, nine-digit timestamps and execution metadata', async () => {
    const reply = await execute(emulator());
    assert.equal(reply.status, 200);
    assert.match(reply.headers['content-type'] as string, /^application\/json/);
    const op = reply.json;
    assert.match(op.id, YANDEX_ID);
    assert.ok(op.id.startsWith('bt1'));
    assert.match(op.createdAt, TIMESTAMP_9);
    assert.ok(op.createdAt.startsWith('2025-06-02T06:00:03.481'));
    assert.match(op.modifiedAt, TIMESTAMP_9);
    assert.match(op.createdBy, YANDEX_ID);
    assert.equal(op.done, false);
    assert.deepEqual(op.metadata, { '@type': EXECUTION_METADATA, projectId: 'p1', notebookId: NOTEBOOK });
    assert.equal(op.response, undefined);
    assert.equal(op.error, undefined);
  });

  it('finishes with executionStatus OK once its duration has passed on the injected clock', async () => {
    const { json: started } = await execute(emulator());
    advance(999);
    assert.equal((await getOperation(emulator(), started.id)).json.done, false);
    advance(1);
    const { json: done } = await getOperation(emulator(), started.id);
    assert.equal(done.done, true);
    assert.deepEqual(done.response, { '@type': EXECUTION_RESPONSE, executionStatus: 'OK' });
    assert.equal(done.error, undefined);
    assert.deepEqual(done.metadata, started.metadata);
    assert.equal(done.createdAt, started.createdAt);
    assert.ok(done.modifiedAt > started.modifiedAt);
  });

  it('accepts a cellId instead of a notebookId and reports it in the metadata', async () => {
    const reply = await execute(emulator(), { cellId: 'cell-1' });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json.metadata, { '@type': EXECUTION_METADATA, projectId: 'p1', cellId: 'cell-1' });
  });

  it('accepts every documented field, also under its proto (snake_case) name', async () => {
    const full = await execute(emulator(), {
      notebookId: NOTEBOOK,
      inputVariables: { DAY: '2025-06-01', N: 3, FLAG: true },
      outputVariableNames: ['result'],
      spec: 'c1.4',
      sparkConnectorId: 'sc1',
    });
    assert.equal(full.status, 200, full.text);
    const snake = await execute(emulator(), {
      notebook_id: NOTEBOOK,
      input_variables: {},
      output_variable_names: [],
      spark_connector_id: 'sc1',
    });
    assert.equal(snake.status, 200, snake.text);
    assert.equal(snake.json.metadata.notebookId, NOTEBOOK);
  });

  it('refuses an unknown field with INVALID_ARGUMENT naming the field, and creates nothing', async () => {
    const reply = await execute(emulator(), { notebookId: NOTEBOOK, timeoutSeconds: 60 });
    assertRpcError(reply, 400, 3);
    assert.match(reply.json.message, /timeoutSeconds/);
    assert.deepEqual(reply.json.details[1].fieldViolations[0].field, 'timeoutSeconds');
    assert.equal(emulator().operations().length, 0);
  });

  it('refuses a request with both notebookId and cellId, or with neither', async () => {
    assertRpcError(await execute(emulator(), { notebookId: NOTEBOOK, cellId: 'c' }), 400, 3);
    assertRpcError(await execute(emulator(), {}), 400, 3);
    assertRpcError(await execute(emulator(), { notebookId: '' }), 400, 3);
    assert.equal(emulator().operations().length, 0);
  });

  it('refuses a notebookId or sparkConnectorId over 200 characters and a projectId over 50', async () => {
    assert.equal((await execute(emulator(), { notebookId: 'n'.repeat(200) })).status, 200);
    assertRpcError(await execute(emulator(), { notebookId: 'n'.repeat(201) }), 400, 3);
    assertRpcError(
      await execute(emulator(), { notebookId: NOTEBOOK, sparkConnectorId: 's'.repeat(201) }),
      400,
      3,
    );
    assert.equal((await execute(emulator(), undefined, {}, 'p'.repeat(50))).status, 200);
    const long = await execute(emulator(), undefined, {}, 'p'.repeat(51));
    assertRpcError(long, 400, 3);
    assert.match(long.json.message, /projectId/);
  });

  it('refuses fields of the wrong type and a body that is not a JSON object', async () => {
    assertRpcError(await execute(emulator(), { notebookId: 42 }), 400, 3);
    assertRpcError(await execute(emulator(), { notebookId: NOTEBOOK, inputVariables: ['a'] }), 400, 3);
    assertRpcError(await execute(emulator(), { notebookId: NOTEBOOK, outputVariableNames: [1] }), 400, 3);
    assertRpcError(await execute(emulator(), '{"notebookId": '), 400, 3);
    assertRpcError(await execute(emulator(), '[1]'), 400, 3);
  });

  it('answers NOT_FOUND for a project registered as missing', async () => {
    const missing = await startEmulator({ missingProjects: ['gone'] });
    try {
      const reply = await execute(missing, undefined, {}, 'gone');
      assertRpcError(reply, 404, 5);
      assert.equal(missing.operations().length, 0);
    } finally {
      await missing.close();
    }
  });
});

describe('Run outcomes', () => {
  const { emulator, advance } = useEmulator();

  async function finalState(
    em: Emulator,
    body: unknown = { notebookId: NOTEBOOK },
    projectId = 'p1',
    wait = 1000,
  ) {
    const { json: started } = await execute(em, body, {}, projectId);
    advance(wait);
    return (await getOperation(em, started.id)).json;
  }

  for (const outcome of ['OK', 'ERROR', 'ABORTED'] as const) {
    it(`ends with executionStatus ${outcome} when the options say ${outcome}`, async () => {
      const em = await startEmulator({ outcome, durationMs: 0 });
      try {
        const { json: op } = await execute(em);
        const { json: done } = await getOperation(em, op.id);
        assert.equal(done.done, true);
        assert.deepEqual(done.response, { '@type': EXECUTION_RESPONSE, executionStatus: outcome });
        assert.equal(done.error, undefined);
      } finally {
        await em.close();
      }
    });
  }

  it('ends with operation.error code 13 and no response when the options say OPERATION_ERROR', async () => {
    const em = await startEmulator({ outcome: 'OPERATION_ERROR', durationMs: 0 });
    try {
      const { json: op } = await execute(em);
      const { json: done } = await getOperation(em, op.id);
      assert.equal(done.done, true);
      assert.equal(done.response, undefined);
      assert.equal(done.error.code, 13);
      assert.equal(typeof done.error.message, 'string');
      assert.ok(Array.isArray(done.error.details));
    } finally {
      await em.close();
    }
  });

  it('uses the last plan rule that matches the notebook and project', async () => {
    emulator().plan({ outcome: 'ERROR' });
    emulator().plan({ notebookId: 'b.ipynb', outcome: 'ABORTED', durationMs: 10 });
    emulator().plan({ projectId: 'p2', outcome: 'OPERATION_ERROR' });
    assert.equal((await finalState(emulator())).response.executionStatus, 'ERROR');
    assert.equal(
      (await finalState(emulator(), { notebookId: 'b.ipynb' }, 'p1', 10)).response.executionStatus,
      'ABORTED',
    );
    assert.equal((await finalState(emulator(), { notebookId: 'b.ipynb' }, 'p2')).error.code, 13);
  });

  it('takes outcome and duration from EMULATOR_OUTCOME and EMULATOR_DURATION_MS input variables', async () => {
    const { json: started } = await execute(emulator(), {
      notebookId: NOTEBOOK,
      inputVariables: { EMULATOR_OUTCOME: 'error', EMULATOR_DURATION_MS: '5000' },
    });
    advance(4999);
    assert.equal((await getOperation(emulator(), started.id)).json.done, false);
    advance(1);
    assert.equal((await getOperation(emulator(), started.id)).json.response.executionStatus, 'ERROR');
    const viaNumber = await finalState(emulator(), {
      notebookId: NOTEBOOK,
      inputVariables: { EMULATOR_OUTCOME: 'OPERATION_ERROR', EMULATOR_DURATION_MS: 0 },
    });
    assert.equal(viaNumber.error.code, 13);
  });

  it("takes each new Execute's outcome from EMULATOR_OUTCOMES in turn (a retry fails once, then succeeds)", async () => {
    const body = (notebookId: string) => ({
      notebookId,
      inputVariables: { EMULATOR_OUTCOMES: 'error, OK', EMULATOR_DURATION_MS: 0 },
    });
    const statusOf = async (notebookId: string, key: string) => {
      const { json: started } = await execute(emulator(), body(notebookId), { 'Idempotency-Key': key });
      advance(1);
      const done = (await getOperation(emulator(), started.id)).json;
      return [started.id as string, done.response.executionStatus as string] as const;
    };
    const [firstId, first] = await statusOf(NOTEBOOK, 'k1');
    assert.equal(first, 'ERROR');
    // The same key again replays the same operation and takes nothing from the sequence.
    const [replayId] = await statusOf(NOTEBOOK, 'k1');
    assert.equal(replayId, firstId);
    assert.equal((await statusOf(NOTEBOOK, 'k2'))[1], 'OK');
    assert.equal((await statusOf(NOTEBOOK, 'k3'))[1], 'OK', 'the last entry repeats');
    // Another notebook has a sequence of its own; a reset starts every sequence again.
    assert.equal((await statusOf('other.ipynb', 'k4'))[1], 'ERROR');
    emulator().reset();
    assert.equal((await statusOf(NOTEBOOK, 'k5'))[1], 'ERROR');
    // A plan rule with an outcome still wins.
    emulator().plan({ notebookId: 'planned.ipynb', outcome: 'ABORTED' });
    assert.equal((await statusOf('planned.ipynb', 'k6'))[1], 'ABORTED');
    const bad = await execute(emulator(), {
      notebookId: NOTEBOOK,
      inputVariables: { EMULATOR_OUTCOMES: 'ERROR,MAYBE' },
    });
    assertRpcError(bad, 400, 3);
    assert.match(bad.json.message, /EMULATOR_OUTCOMES/);
  });

  it('prefers a matching plan rule over the input variables', async () => {
    emulator().plan({ notebookId: NOTEBOOK, outcome: 'ABORTED' });
    const done = await finalState(emulator(), {
      notebookId: NOTEBOOK,
      inputVariables: { EMULATOR_OUTCOME: 'ERROR' },
    });
    assert.equal(done.response.executionStatus, 'ABORTED');
  });

  it('refuses an EMULATOR_OUTCOME or EMULATOR_DURATION_MS it does not understand', async () => {
    const outcome = await execute(emulator(), {
      notebookId: NOTEBOOK,
      inputVariables: { EMULATOR_OUTCOME: 'MAYBE' },
    });
    assertRpcError(outcome, 400, 3);
    assert.match(outcome.json.message, /EMULATOR_OUTCOME/);
    const duration = await execute(emulator(), {
      notebookId: NOTEBOOK,
      inputVariables: { EMULATOR_DURATION_MS: 'soon' },
    });
    assertRpcError(duration, 400, 3);
  });

  it('finishes an operation on request through finish(), with another outcome if asked', async () => {
    const { json: op } = await execute(emulator());
    emulator().finish(op.id, 'ERROR');
    assert.equal((await getOperation(emulator(), op.id)).json.response.executionStatus, 'ERROR');
    emulator().finish(op.id, 'OK');
    assert.equal((await getOperation(emulator(), op.id)).json.response.executionStatus, 'ERROR');
    assert.throws(() => emulator().finish('bt1unknown0000000000'), RangeError);
  });

  it('shows done:false with error while an OPERATION_ERROR rolls back, when errorRollbackMs is set', async () => {
    let clock = START;
    const em = await startEmulator({
      outcome: 'OPERATION_ERROR',
      durationMs: 100,
      errorRollbackMs: 500,
      now: () => clock,
    });
    try {
      const { json: op } = await execute(em);
      clock += 100;
      const failing = (await getOperation(em, op.id)).json;
      assert.equal(failing.done, false);
      assert.equal(failing.error.code, 13);
      assert.equal(failing.response, undefined);
      clock += 500;
      const done = (await getOperation(em, op.id)).json;
      assert.equal(done.done, true);
      assert.equal(done.error.code, 13);
    } finally {
      await em.close();
    }
  });

  it('omits done while it is false when omitDoneFalse is set', async () => {
    const em = await startEmulator({ omitDoneFalse: true, durationMs: 60_000 });
    try {
      const { json: op } = await execute(em);
      assert.equal('done' in op, false);
      em.finish(op.id);
      assert.equal((await getOperation(em, op.id)).json.done, true);
    } finally {
      await em.close();
    }
  });

  it('refuses an Execute into a busy project with FAILED_PRECONDITION when oneRunPerProject is set', async () => {
    let clock = START;
    const em = await startEmulator({ oneRunPerProject: true, durationMs: 100, now: () => clock });
    try {
      assert.equal((await execute(em)).status, 200);
      const busy = await execute(em, { notebookId: 'other.ipynb' });
      assertRpcError(busy, 400, 9);
      assert.equal((await execute(em, undefined, {}, 'p2')).status, 200);
      clock += 100;
      assert.equal((await execute(em)).status, 200);
      assert.equal(em.operations().length, 3);
    } finally {
      await em.close();
    }
  });
});

describe('Idempotency-Key', () => {
  const { emulator, advance } = useEmulator();

  it('replays the same operation, in its current state, for a key seen before', async () => {
    const key = '7d3e0a52-1c1f-4c8e-9a55-0f6f3b1b2f10';
    const first = await execute(emulator(), undefined, { 'idempotency-key': key });
    advance(1000);
    const second = await execute(emulator(), undefined, { 'idempotency-key': key });
    assert.equal(second.status, 200);
    assert.equal(second.json.id, first.json.id);
    assert.equal(second.json.done, true);
    assert.equal(emulator().operations().length, 1);
    assert.equal(emulator().operations()[0]?.idempotencyKey, key);
    assert.deepEqual(
      emulator().requests.map((r) => r.idempotencyKey),
      [key, key],
    );
  });

  it('starts a new operation for a new key, no key, or the same key in another project', async () => {
    const a = await execute(emulator(), undefined, { 'idempotency-key': 'k1' });
    const b = await execute(emulator(), undefined, { 'idempotency-key': 'k2' });
    const c = await execute(emulator());
    const d = await execute(emulator(), undefined, { 'idempotency-key': 'k1' }, 'p2');
    assert.equal(new Set([a.json.id, b.json.id, c.json.id, d.json.id]).size, 4);
  });

  it('replays Open and Activate operations too', async () => {
    const headers = { 'idempotency-key': 'k-open' };
    const open1 = await call(emulator(), 'POST', '/datasphere/v2/projects/p1/open', { body: {}, headers });
    const open2 = await call(emulator(), 'POST', '/datasphere/v2/projects/p1/open', { body: {}, headers });
    assert.equal(open1.json.id, open2.json.id);
    const body = { projectId: 'p1', dockerId: 'd1' };
    const act1 = await call(emulator(), 'POST', '/datasphere/v2/docker/activate', { body, headers });
    const act2 = await call(emulator(), 'POST', '/datasphere/v2/docker/activate', { body, headers });
    assert.equal(act1.json.id, act2.json.id);
    assert.notEqual(act1.json.id, open1.json.id);
    assert.equal(emulator().operations().length, 2);
  });
});

describe('Authorization', () => {
  it('answers 401 UNAUTHENTICATED without a bearer token, on every route', async () => {
    const em = await startEmulator();
    try {
      for (const [method, path] of [
        ['POST', '/datasphere/v2/projects/p1:execute'],
        ['GET', '/datasphere/v2/projects/p1'],
        ['GET', '/operations/bt1ok3m9c5v2r7h0d4e6'],
        ['GET', '/operations/bt1ok3m9c5v2r7h0d4e6:cancel'],
      ] as const) {
        const reply = await call(em, method, path, {
          auth: false,
          body: method === 'POST' ? { notebookId: 'a' } : undefined,
        });
        assertRpcError(reply, 401, 16);
        assert.equal(reply.json.message, 'The token is invalid or has expired.');
      }
      assertRpcError(
        await call(em, 'GET', '/datasphere/v2/projects/p1', {
          headers: { authorization: 'Basic abc' },
          auth: false,
        }),
        401,
        16,
      );
      assertRpcError(
        await call(em, 'GET', '/datasphere/v2/projects/p1', {
          headers: { authorization: 'Bearer ' },
          auth: false,
        }),
        401,
        16,
      );
      assert.equal(em.operations().length, 0);
      assert.ok(em.requests.every((r) => !r.authorized && r.status === 401));
    } finally {
      await em.close();
    }
  });

  it('accepts only the configured token when one is set, and never logs it', async () => {
    const lines: string[] = [];
    const em = await startEmulator({ token: TOKEN, log: (line) => lines.push(line) });
    try {
      const wrong = await call(em, 'GET', '/datasphere/v2/projects/p1', {
        auth: false,
        headers: { authorization: 'Bearer t1.other-token' },
      });
      assertRpcError(wrong, 401, 16);
      assert.equal((await call(em, 'GET', '/datasphere/v2/projects/p1')).status, 200);
      assert.deepEqual(
        em.requests.map((r) => [r.authorized, r.status]),
        [
          [false, 401],
          [true, 200],
        ],
      );
      assert.equal(lines.length, 2);
      assert.ok(lines.every((line) => !line.includes('t1.')));
      assert.match(lines[1] ?? '', /^GET \/datasphere\/v2\/projects\/p1 200/);
    } finally {
      await em.close();
    }
  });
});

describe('Operation.Get', () => {
  const { emulator } = useEmulator();

  it('answers NOT_FOUND with an rpc body for an unknown operation', async () => {
    assertRpcError(await getOperation(emulator(), 'bt1ok3m9c5v2r7h0d4e6'), 404, 5);
  });

  it('answers NOT_FOUND to the first Gets of a fresh operation when notFoundGetsPerOperation is set', async () => {
    const em = await startEmulator({ notFoundGetsPerOperation: 2, durationMs: 60_000 });
    try {
      const { json: op } = await execute(em);
      assertRpcError(await getOperation(em, op.id), 404, 5);
      assertRpcError(await getOperation(em, op.id), 404, 5);
      const third = await getOperation(em, op.id);
      assert.equal(third.status, 200);
      assert.equal(third.json.id, op.id);
      assert.equal(em.operations()[0]?.gets, 3);
    } finally {
      await em.close();
    }
  });

  it('sends x-operation-poll-interval when pollIntervalSeconds is set', async () => {
    const em = await startEmulator({ pollIntervalSeconds: 2 });
    try {
      const { json: op } = await execute(em);
      assert.equal((await getOperation(em, op.id)).headers['x-operation-poll-interval'], '2');
    } finally {
      await em.close();
    }
  });
});

describe('Operation.Cancel', () => {
  const { emulator, advance } = useEmulator({
    durationMs: 60_000,
    cancelDelayMs: 200,
    cancelMethods: 'both',
  });

  for (const method of ['GET', 'POST'] as const) {
    it(`via ${method} ends a running Execute as ABORTED a moment later`, async () => {
      const { json: op } = await execute(emulator());
      const cancelled = await call(emulator(), method, `/operations/${op.id}:cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.json.id, op.id);
      assert.equal(cancelled.json.done, false);
      advance(200);
      const done = (await getOperation(emulator(), op.id)).json;
      assert.equal(done.done, true);
      assert.deepEqual(done.response, { '@type': EXECUTION_RESPONSE, executionStatus: 'ABORTED' });
      assert.equal(emulator().operations()[0]?.cancelled, true);
    });
  }

  it('ends the operation at once when cancelDelayMs is 0', async () => {
    const em = await startEmulator({ durationMs: 60_000, cancelDelayMs: 0 });
    try {
      const { json: op } = await execute(em);
      const cancelled = await call(em, 'GET', `/operations/${op.id}:cancel`);
      assert.equal(cancelled.json.done, true);
      assert.equal(cancelled.json.response.executionStatus, 'ABORTED');
    } finally {
      await em.close();
    }
  });

  it('returns a done operation unchanged', async () => {
    const { json: op } = await execute(emulator());
    advance(60_000);
    const before = (await getOperation(emulator(), op.id)).json;
    const after = await call(emulator(), 'GET', `/operations/${op.id}:cancel`);
    assert.deepEqual(after.json, before);
    assert.equal(after.json.response.executionStatus, 'OK');
    assert.equal(emulator().operations()[0]?.cancelled, false);
  });

  it('answers NOT_FOUND for an unknown operation', async () => {
    assertRpcError(await call(emulator(), 'POST', '/operations/bt1ok3m9c5v2r7h0d4e6:cancel'), 404, 5);
  });

  it('ends a cancelled Activate with error code 1 CANCELLED', async () => {
    const em = await startEmulator({ activateDurationMs: 60_000, cancelDelayMs: 0 });
    try {
      const { json: op } = await call(em, 'POST', '/datasphere/v2/docker/activate', {
        body: { projectId: 'p1', dockerId: 'd1' },
      });
      const done = (await call(em, 'GET', `/operations/${op.id}:cancel`)).json;
      assert.equal(done.done, true);
      assert.equal(done.error.code, 1);
      assert.equal(done.response, undefined);
    } finally {
      await em.close();
    }
  });

  it('serves GET only by default, POST only on request, and answers the other like an unknown route', async () => {
    const getOnly = await startEmulator({ durationMs: 60_000 });
    const postOnly = await startEmulator({ durationMs: 60_000, cancelMethods: 'post' });
    try {
      for (const [em, served, refused] of [
        [getOnly, 'GET', 'POST'],
        [postOnly, 'POST', 'GET'],
      ] as const) {
        const { json: op } = await execute(em);
        const wrong = await call(em, refused, `/operations/${op.id}:cancel`);
        assertRpcError(wrong, 404, 5);
        // The answer names the route, not the operation (a client must not read it as "no such operation").
        assert.equal(wrong.json.message, `Unknown method: ${refused} /operations/${op.id}:cancel`);
        assert.equal(em.operations()[0]?.cancelled, false);
        assert.equal((await call(em, served, `/operations/${op.id}:cancel`)).status, 200);
      }
    } finally {
      await getOnly.close();
      await postOnly.close();
    }
  });
});

describe('Project.Open', () => {
  const { emulator, advance } = useEmulator({ openDurationMs: 3_000, openPath: 'both' });

  for (const path of ['/datasphere/v2/projects/p1:open', '/datasphere/v2/projects/p1/open']) {
    it(`answers on ${path} with OpenProjectMetadata and, when done, projectUrl and sessionToken`, async () => {
      const reply = await call(emulator(), 'POST', path, { body: {} });
      assert.equal(reply.status, 200, reply.text);
      assert.match(reply.json.id, YANDEX_ID);
      assert.equal(reply.json.done, false);
      assert.deepEqual(reply.json.metadata, {
        '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectMetadata',
        projectId: 'p1',
        status: 'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT',
      });
      assert.equal(reply.json.response, undefined);
      advance(3_000);
      const done = (await call(emulator(), 'GET', `/operations/${reply.json.id}`)).json;
      assert.equal(done.done, true);
      assert.equal(done.metadata.status, 'OPEN_PROJECT_STATUS_STARTING_IDE');
      assert.equal(
        done.response['@type'],
        'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse',
      );
      assert.ok(done.response.projectUrl.startsWith('http://127.0.0.1:'));
      assert.equal(typeof done.response.sessionToken, 'string');
    });
  }

  it('moves through UNZIPPING_PROJECT, ALLOCATING_VM and STARTING_IDE in equal parts of openDurationMs', async () => {
    const { json: op } = await call(emulator(), 'POST', '/datasphere/v2/projects/p1/open', { body: {} });
    const statuses: string[] = [];
    for (let at = 0; at <= 3_000; at += 500) {
      const now = (await call(emulator(), 'GET', `/operations/${op.id}`)).json;
      statuses.push(now.done ? `done ${now.metadata.status}` : now.metadata.status);
      advance(500);
    }
    assert.deepEqual(statuses, [
      'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT',
      'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT',
      'OPEN_PROJECT_STATUS_ALLOCATING_VM',
      'OPEN_PROJECT_STATUS_ALLOCATING_VM',
      'OPEN_PROJECT_STATUS_STARTING_IDE',
      'OPEN_PROJECT_STATUS_STARTING_IDE',
      'done OPEN_PROJECT_STATUS_STARTING_IDE',
    ]);
  });

  it('takes outcome and duration from a plan of kind open (by project); execute plans do not apply', async () => {
    emulator().plan({ outcome: 'ERROR', durationMs: 1 });
    emulator().plan({ kind: 'open', projectId: 'p-fails', outcome: 'OPERATION_ERROR', durationMs: 100 });
    emulator().plan({ kind: 'activate', outcome: 'ERROR', durationMs: 50 });
    const fails = (await call(emulator(), 'POST', '/datasphere/v2/projects/p-fails/open', { body: {} })).json;
    const fine = (await call(emulator(), 'POST', '/datasphere/v2/projects/p1/open', { body: {} })).json;
    const image = (
      await call(emulator(), 'POST', '/datasphere/v2/docker/activate', {
        body: { projectId: 'p1', dockerId: 'd1' },
      })
    ).json;
    advance(100);
    const failed = (await call(emulator(), 'GET', `/operations/${fails.id}`)).json;
    assert.equal(failed.done, true);
    assert.equal(failed.error.code, 13);
    assert.equal(
      (await call(emulator(), 'GET', `/operations/${fine.id}`)).json.done,
      false,
      'openDurationMs',
    );
    const activation = (await call(emulator(), 'GET', `/operations/${image.id}`)).json;
    assert.equal(activation.error.code, 13);
    assert.throws(() => emulator().plan({ kind: 'open', notebookId: 'nb' }), /does not apply/);
    assert.throws(() => emulator().plan({ kind: 'close' as never }), /plan\.kind/);
  });

  it('starts with CLOSING_IDE when the project was opened before', async () => {
    await call(emulator(), 'POST', '/datasphere/v2/projects/p1/open', { body: {} });
    const other = (await call(emulator(), 'POST', '/datasphere/v2/projects/p2/open', { body: {} })).json;
    assert.equal(other.metadata.status, 'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT');
    advance(3_000);
    const again = (await call(emulator(), 'POST', '/datasphere/v2/projects/p1/open', { body: {} })).json;
    assert.equal(again.metadata.status, 'OPEN_PROJECT_STATUS_CLOSING_IDE');
    advance(750);
    const next = (await call(emulator(), 'GET', `/operations/${again.id}`)).json;
    assert.equal(next.metadata.status, 'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT');
  });

  it('serves /open only by default and :open only on request; the other answers like an unknown route', async () => {
    const byDefault = await startEmulator();
    const colon = await startEmulator({ openPath: 'colon' });
    try {
      for (const [em, served, refused] of [
        [byDefault, '/datasphere/v2/projects/p1/open', '/datasphere/v2/projects/p1:open'],
        [colon, '/datasphere/v2/projects/p1:open', '/datasphere/v2/projects/p1/open'],
      ] as const) {
        assert.equal((await call(em, 'POST', served, { body: {} })).status, 200);
        const wrong = await call(em, 'POST', refused, { body: {} });
        assertRpcError(wrong, 404, 5);
        assert.equal(wrong.json.message, `Unknown method: POST ${refused}`);
        assert.equal(em.operations().length, 1);
      }
    } finally {
      await byDefault.close();
      await colon.close();
    }
  });

  it('answers NOT_FOUND naming the project for a missing one, and refuses body fields', async () => {
    const em = await startEmulator({ missingProjects: ['gone'] });
    try {
      const missing = await call(em, 'POST', '/datasphere/v2/projects/gone/open', { body: {} });
      assertRpcError(missing, 404, 5);
      assert.equal(missing.json.message, 'Project gone not found');
      assertRpcError(
        await call(em, 'POST', '/datasphere/v2/projects/p1/open', { body: { mode: 'x' } }),
        400,
        3,
      );
    } finally {
      await em.close();
    }
  });
});

describe('Project.Get', () => {
  const { emulator } = useEmulator();

  it('answers a Project with int64 limits as strings and a valid name', async () => {
    const reply = await call(emulator(), 'GET', '/datasphere/v2/projects/bt1q7c5m2k9r4v0h8e3s');
    assert.equal(reply.status, 200);
    const project = reply.json;
    assert.equal(project.id, 'bt1q7c5m2k9r4v0h8e3s');
    assert.match(project.name, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    assert.match(project.createdAt, TIMESTAMP_9);
    assert.match(project.createdById, YANDEX_ID);
    assert.match(project.communityId, YANDEX_ID);
    assert.equal(project.settings.ide, 'JUPYTER_LAB');
    assert.equal(project.settings.vmInactivityTimeout, '3600s');
    assert.equal(typeof project.limits.maxUnitsPerHour, 'string');
    assert.equal(typeof project.limits.maxUnitsPerExecution, 'string');
    const again = await call(emulator(), 'GET', '/datasphere/v2/projects/bt1q7c5m2k9r4v0h8e3s');
    assert.deepEqual(again.json, project);
  });

  it('answers NOT_FOUND for a missing project and INVALID_ARGUMENT for an id over 50 characters', async () => {
    const em = await startEmulator({ missingProjects: ['gone'] });
    try {
      assertRpcError(await call(em, 'GET', '/datasphere/v2/projects/gone'), 404, 5);
      assertRpcError(await call(em, 'GET', `/datasphere/v2/projects/${'p'.repeat(51)}`), 400, 3);
    } finally {
      await em.close();
    }
  });
});

describe('DockerImage.Activate', () => {
  const { emulator, advance } = useEmulator({ activateDurationMs: 500 });

  it('answers an Operation that ends with a google.protobuf.Empty response', async () => {
    const reply = await call(emulator(), 'POST', '/datasphere/v2/docker/activate', {
      body: { projectId: 'p1', dockerId: 'bt1docker00000000000' },
    });
    assert.equal(reply.status, 200, reply.text);
    assert.match(reply.json.id, YANDEX_ID);
    assert.equal(reply.json.done, false);
    assert.equal(reply.json.metadata, undefined);
    advance(500);
    const done = (await getOperation(emulator(), reply.json.id)).json;
    assert.equal(done.done, true);
    assert.deepEqual(done.response, { '@type': 'type.googleapis.com/google.protobuf.Empty' });
    assert.equal(emulator().operations()[0]?.kind, 'activate');
  });

  it('requires projectId and dockerId of at most 50 characters and refuses other fields', async () => {
    const path = '/datasphere/v2/docker/activate';
    assertRpcError(await call(emulator(), 'POST', path, { body: { projectId: 'p1' } }), 400, 3);
    assertRpcError(await call(emulator(), 'POST', path, { body: { dockerId: 'd1' } }), 400, 3);
    assertRpcError(
      await call(emulator(), 'POST', path, { body: { projectId: 'p1', dockerId: 'd'.repeat(51) } }),
      400,
      3,
    );
    assertRpcError(
      await call(emulator(), 'POST', path, { body: { projectId: 'p1', dockerId: 'd', x: 1 } }),
      400,
      3,
    );
    assert.equal(emulator().operations().length, 0);
  });
});

describe('Injected faults', () => {
  const { emulator } = useEmulator();

  it('latency delays a normal answer', async () => {
    emulator().inject({ kind: 'latency', latencyMs: 20, path: ':execute' });
    const reply = await execute(emulator());
    assert.equal(reply.status, 200);
    assert.match(reply.json.id, YANDEX_ID);
    assert.equal(emulator().operations().length, 1);
  });

  it('an Execute latency fault, injected through the control API, creates the operation before its answer', async () => {
    const em = await startEmulator({ durationMs: 60_000 });
    try {
      const injected = await call(em, 'POST', '/_emulator/faults', {
        body: { kind: 'latency', method: 'POST', path: ':execute', latencyMs: 2_000 },
      });
      assert.equal(injected.status, 200);
      let answered = false;
      const pending = execute(em).finally(() => {
        answered = true;
      });
      let state: { operations: unknown[] } = { operations: [] };
      for (let i = 0; i < 150 && state.operations.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        state = (await call(em, 'GET', '/_emulator/state')).json;
      }
      assert.equal(state.operations.length, 1, 'the operation exists while its answer is held back');
      assert.equal(answered, false);
      const reply = await pending;
      assert.equal(reply.status, 200);
      assert.equal(reply.json.id, (state.operations[0] as { id: string }).id);
    } finally {
      await em.close();
    }
  });

  it('status answers the HTTP status with an rpc body and Retry-After, and the Execute creates nothing', async () => {
    emulator().inject({
      kind: 'status',
      status: 429,
      retryAfterSeconds: 3,
      method: 'post',
      path: ':execute',
    });
    const reply = await execute(emulator());
    assertRpcError(reply, 429, 8);
    assert.equal(reply.headers['retry-after'], '3');
    assert.deepEqual(reply.json.details[1], {
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: '3s',
    });
    assert.equal(emulator().operations().length, 0);
    assert.equal((await execute(emulator())).status, 200);
  });

  it('status derives the rpc code from the HTTP status unless one is given', async () => {
    emulator().inject({ kind: 'status', status: 503 });
    emulator().inject({ kind: 'status', status: 500, rpcCode: 2, message: 'boom' });
    assertRpcError(await call(emulator(), 'GET', '/datasphere/v2/projects/p1'), 503, 14);
    const second = await call(emulator(), 'GET', '/datasphere/v2/projects/p1');
    assertRpcError(second, 500, 2);
    assert.equal(second.json.message, 'boom');
  });

  it('drop closes the connection without an answer and the Execute creates nothing', async () => {
    emulator().inject({ kind: 'drop', path: ':execute' });
    await assert.rejects(execute(emulator()));
    assert.equal(emulator().operations().length, 0);
    assert.equal(emulator().requests[0]?.status, 0);
    assert.equal((await execute(emulator())).status, 200);
  });

  it('malformed answers 200 with a body that is not valid JSON, or with the body given', async () => {
    emulator().inject({ kind: 'malformed', path: '/operations/' });
    emulator().inject({ kind: 'malformed', path: '/operations/', body: '{"unexpected": true}' });
    const first = await getOperation(emulator(), 'bt1ok3m9c5v2r7h0d4e6');
    assert.equal(first.status, 200);
    assert.throws(() => JSON.parse(first.text));
    const second = await getOperation(emulator(), 'bt1ok3m9c5v2r7h0d4e6');
    assert.deepEqual(second.json, { unexpected: true });
  });

  it('is used `times` times, only for a matching method and path, and Infinity lasts until cleared', async () => {
    emulator().inject({ kind: 'status', status: 503, method: 'GET', path: '/operations/', times: 2 });
    assert.equal((await execute(emulator())).status, 200);
    assert.equal((await getOperation(emulator(), 'x')).status, 503);
    assert.equal((await getOperation(emulator(), 'x')).status, 503);
    assert.equal((await getOperation(emulator(), 'x')).status, 404);
    emulator().inject({ kind: 'status', status: 500, times: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 3; i += 1) assert.equal((await getOperation(emulator(), 'x')).status, 500);
    emulator().clearFaults();
    assert.equal((await getOperation(emulator(), 'x')).status, 404);
  });

  it('refuses a fault it cannot apply', () => {
    assert.throws(() => emulator().inject({ kind: 'explode' as 'drop' }), TypeError);
    assert.throws(() => emulator().inject({ kind: 'status', times: 0 }), TypeError);
  });
});

describe('Every answer', () => {
  const { emulator } = useEmulator();

  it('carries x-request-id and x-server-trace-id, echoing the client x-request-id', async () => {
    const replies = [
      await execute(emulator()),
      await call(emulator(), 'GET', '/operations/unknown'),
      await call(emulator(), 'GET', '/nowhere', { auth: false }),
      await call(emulator(), 'GET', '/_emulator/state'),
    ];
    for (const reply of replies) {
      assert.match(reply.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
      assert.match(reply.headers['x-server-trace-id'] as string, /^[0-9a-f]{32}$/);
    }
    const echoed = await call(emulator(), 'GET', '/datasphere/v2/projects/p1', {
      headers: { 'x-request-id': '5e0c7a19-3b42-4f8d-a6e1-9c27d40b8f35' },
    });
    assert.equal(echoed.headers['x-request-id'], '5e0c7a19-3b42-4f8d-a6e1-9c27d40b8f35');
  });

  it('is 404 NOT_FOUND for an unknown route', async () => {
    assertRpcError(await call(emulator(), 'GET', '/datasphere/v2/projects/p1:unknown'), 404, 5);
    assertRpcError(await call(emulator(), 'DELETE', '/operations/x'), 404, 5);
  });
});

describe('Control API', () => {
  const { emulator } = useEmulator();

  it('shows operations, requests, plans and faults without authentication', async () => {
    await execute(emulator());
    const state = await call(emulator(), 'GET', '/_emulator/state', { auth: false });
    assert.equal(state.status, 200);
    assert.equal(state.json.url, emulator().url);
    assert.equal(state.json.operations.length, 1);
    assert.equal(state.json.operations[0].kind, 'execute');
    assert.deepEqual(
      state.json.requests.map((r: { method: string; path: string }) => `${r.method} ${r.path}`),
      ['POST /datasphere/v2/projects/p1:execute'],
    );
  });

  it('adds plans and faults, clears faults, finishes operations and resets', async () => {
    const plan = await call(emulator(), 'POST', '/_emulator/plan', {
      auth: false,
      body: { notebookId: NOTEBOOK, outcome: 'ERROR' },
    });
    assert.equal(plan.status, 200, plan.text);
    const { json: op } = await execute(emulator());
    const finish = await call(emulator(), 'POST', `/_emulator/operations/${op.id}:finish`, {
      auth: false,
      body: {},
    });
    assert.equal(finish.status, 200, finish.text);
    assert.equal(finish.json.done, true);
    assert.equal((await getOperation(emulator(), op.id)).json.response.executionStatus, 'ERROR');

    const faults = await call(emulator(), 'POST', '/_emulator/faults', {
      auth: false,
      body: [
        { kind: 'status', status: 503, path: '/operations/' },
        { kind: 'drop', times: 'Infinity', path: '/nothing' },
      ],
    });
    assert.equal(faults.status, 200, faults.text);
    assert.equal(faults.json.faults.length, 2);
    assert.equal(faults.json.faults[1].times, 'Infinity');
    assert.equal((await getOperation(emulator(), op.id)).status, 503);
    assert.equal((await call(emulator(), 'DELETE', '/_emulator/faults', { auth: false })).status, 200);
    assert.equal((await call(emulator(), 'GET', '/_emulator/state')).json.faults.length, 0);

    assert.equal((await call(emulator(), 'POST', '/_emulator/reset', { auth: false })).status, 200);
    const state = (await call(emulator(), 'GET', '/_emulator/state')).json;
    assert.deepEqual([state.operations, state.requests, state.plans, state.faults], [[], [], [], []]);
  });

  it('refuses bad plans and faults with 400 and leaves control requests out of the request log', async () => {
    assert.equal(
      (await call(emulator(), 'POST', '/_emulator/plan', { body: { outcome: 'MAYBE' } })).status,
      400,
    );
    assert.equal((await call(emulator(), 'POST', '/_emulator/plan', { body: { color: 'red' } })).status, 400);
    assert.equal(
      (await call(emulator(), 'POST', '/_emulator/faults', { body: { kind: 'status', times: 0 } })).status,
      400,
    );
    assert.equal(
      (await call(emulator(), 'POST', '/_emulator/operations/nope:finish', { body: {} })).status,
      404,
    );
    assert.equal((await call(emulator(), 'GET', '/_emulator/elsewhere')).status, 404);
    assert.equal(emulator().requests.length, 0);
  });
});

describe('startEmulator', () => {
  it('refuses options it cannot honour with a TypeError', async () => {
    await assert.rejects(startEmulator({ outcome: 'MAYBE' as Outcome }), TypeError);
    await assert.rejects(startEmulator({ durationMs: -1 }), TypeError);
    await assert.rejects(startEmulator({ openPath: 'dash' as 'colon' }), TypeError);
    await assert.rejects(startEmulator({ token: '' }), TypeError);
  });
});

describe('close()', () => {
  it('does not wait for answers a latency fault is holding back', async () => {
    const em = await startEmulator();
    em.inject({ kind: 'latency', latencyMs: 60_000 });
    const pending = call(em, 'GET', '/datasphere/v2/projects/p1');
    // the request is recorded once it has been handled, before its answer is held back
    while (em.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await em.close();
    await assert.rejects(pending);
  });
});
