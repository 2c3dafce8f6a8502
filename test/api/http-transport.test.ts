import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { errors, MockAgent } from 'undici';
import { ApiError, isApiError } from '../../shared/api/api-error.ts';
import { createHttpTransport } from '../../shared/api/http-transport.ts';
import { decodeOperation } from '../../shared/api/protojson.ts';
import { createRetryPolicy } from '../../shared/api/retry-policy.ts';
import { staticTokenSource } from '../../shared/api/token-source.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { createMockApi, DS, JSON_HEADERS, type MockApi, runningExecute, TOKEN } from './mock-api.ts';

const EXECUTE_PATH = '/datasphere/v2/projects/p1:execute';

function execute(api: MockApi, signal?: AbortSignal) {
  return api.datasphere.execute('p1', { notebookId: 'nb.ipynb' }, { idempotencyKey: 'key-1', signal });
}

async function rejectsWith(promise: Promise<unknown>, check: (error: ApiError) => void): Promise<ApiError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof ApiError, `expected an ApiError, got ${String(caught)}`);
  check(caught);
  // The token never leaks, whatever the error.
  assert.ok(!caught.message.includes(TOKEN), caught.message);
  assert.ok(!JSON.stringify(caught).includes(TOKEN));
  assert.ok(!JSON.stringify(caught).includes('test-token'));
  return caught;
}

describe('http transport: headers', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  it('sends the bearer token, JSON content type, user agent, request ids and the idempotency key', async () => {
    api.agent
      .get(DS)
      .intercept({
        path: EXECUTE_PATH,
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'idempotency-key': 'key-1',
          'content-type': 'application/json',
        },
      })
      .reply(200, runningExecute(), JSON_HEADERS);
    await execute(api);
    const [call] = api.calls();
    assert.ok(call);
    assert.equal(call.headers['user-agent'], 'datasphere-runner/0.1');
    assert.equal(call.headers.accept, 'application/json');
    assert.match(call.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.match(call.headers['x-client-trace-id'] ?? '', /^[0-9a-f-]{36}$/);
  });

  it('sends no content type and no idempotency key on a GET', async () => {
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1', method: 'GET' })
      .reply(200, { id: 'p1' }, JSON_HEADERS);
    await api.datasphere.getProject('p1');
    const [call] = api.calls();
    assert.equal(call?.headers['content-type'], undefined);
    assert.equal(call?.headers['idempotency-key'], undefined);
    assert.equal(call?.headers.authorization, `Bearer ${TOKEN}`);
  });

  it('keeps a path prefix of the base URL', async () => {
    const transport = createHttpTransport({ dispatcher: api.agent, token: staticTokenSource(TOKEN) });
    api.agent
      .get('http://127.0.0.1:9999')
      .intercept({ path: '/prefix/operations/op1', method: 'GET' })
      .reply(200, { id: 'op1' }, JSON_HEADERS);
    const op = await transport.request({
      api: 'Operation',
      rpc: 'Operation.Get',
      method: 'GET',
      baseUrl: 'http://127.0.0.1:9999/prefix/',
      path: '/operations/op1',
      decode: (json) => decodeOperation(json),
    });
    assert.equal(op.id, 'op1');
  });
});

describe('http transport: error answers', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  const cases: Array<[number, number, string, string]> = [
    [400, 3, 'INVALID_ARGUMENT', 'notebookId: must not be empty'],
    [400, 9, 'FAILED_PRECONDITION', 'project is busy'],
    [401, 16, 'UNAUTHENTICATED', 'The token is invalid or has expired.'],
    [403, 7, 'PERMISSION_DENIED', 'Permission denied'],
    [404, 5, 'NOT_FOUND', 'Project p1 not found'],
    [409, 10, 'ABORTED', 'concurrent modification'],
    [409, 6, 'ALREADY_EXISTS', 'exists'],
  ];
  for (const [status, code, name, message] of cases) {
    it(`turns ${status} ${name} into a non-retryable API_ERROR after one attempt`, async () => {
      api.agent
        .get(DS)
        .intercept({ path: EXECUTE_PATH, method: 'POST' })
        .reply(
          status,
          { code, message, details: [] },
          {
            headers: {
              'content-type': 'application/json',
              'x-request-id': 'req-1',
              'x-server-trace-id': 'trace-1',
            },
          },
        );
      const error = await rejectsWith(execute(api), (e) => {
        assert.equal(e.code, 'API_ERROR');
        assert.equal(e.httpStatus, status);
        assert.equal(e.rpcCode, code);
        assert.equal(e.rpcName, name);
        assert.equal(e.apiMessage, message);
        assert.equal(e.requestId, 'req-1');
        assert.equal(e.serverTraceId, 'trace-1');
        assert.equal(e.method, 'POST');
        assert.equal(e.path, EXECUTE_PATH);
        assert.equal(e.api, 'DataSphere');
        assert.equal(e.rpc, 'Project.Execute');
        assert.equal(e.retryable, false);
        assert.equal(e.attempts, 1);
      });
      assert.ok(
        error.message.startsWith(
          `DataSphere Project.Execute POST ${EXECUTE_PATH} failed: ${status} ${name} (code ${code}): ${message}`,
        ),
        error.message,
      );
      assert.ok(error.message.endsWith('[request-id req-1]'), error.message);
      assert.equal(api.calls().length, 1);
      assert.deepEqual(api.sleeps, []);
    });
  }

  it('says plainly that a 401 means the token is invalid or expired', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(401, { code: 16, message: 'bad' }, JSON_HEADERS);
    await rejectsWith(execute(api), (e) =>
      assert.match(e.message, /IAM token is missing, invalid or expired/),
    );
  });

  it('takes the request id from a RequestInfo detail when the header is missing', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(
        401,
        {
          code: 16,
          message: 'The token is invalid or has expired.',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.RequestInfo',
              requestId: '5e0c7a19-3b42-4f8d-a6e1-9c27d40b8f35',
            },
          ],
        },
        JSON_HEADERS,
      );
    await rejectsWith(execute(api), (e) => {
      assert.equal(e.requestId, '5e0c7a19-3b42-4f8d-a6e1-9c27d40b8f35');
      assert.equal(e.toJSON().requestId, '5e0c7a19-3b42-4f8d-a6e1-9c27d40b8f35');
    });
  });

  it('keeps a short sanitised snippet of a non-JSON error body and retries a 502', async () => {
    const html =
      '<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>';
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(502, html, { headers: { 'content-type': 'text/html' } })
      .times(4);
    const error = await rejectsWith(execute(api), (e) => {
      assert.equal(e.code, 'API_ERROR');
      assert.equal(e.httpStatus, 502);
      assert.equal(e.rpcCode, undefined);
      assert.equal(e.apiMessage, '502 Bad Gateway nginx');
      assert.equal(e.retryable, true);
      assert.equal(e.attempts, 4);
    });
    assert.match(error.message, /failed: 502 Bad Gateway: 502 Bad Gateway nginx \(after 4 attempts\)/);
  });

  it('redacts a token echoed in a plain-text error body', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(400, `bad header Authorization: Bearer ${TOKEN}`, { headers: { 'content-type': 'text/plain' } });
    await rejectsWith(execute(api), (e) => assert.match(e.apiMessage ?? '', /Bearer \[REDACTED\]/));
  });

  it('reads a 500 as retryable and gives up after four attempts', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(500, { code: 13, message: 'internal' }, JSON_HEADERS)
      .times(4);
    await rejectsWith(execute(api), (e) => {
      assert.equal(e.rpcName, 'INTERNAL');
      assert.equal(e.retryable, true);
      assert.equal(e.attempts, 4);
    });
    assert.equal(api.sleeps.length, 3);
  });

  it('does not retry a 500 DATA_LOSS', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(500, { code: 15, message: 'lost' }, JSON_HEADERS);
    await rejectsWith(execute(api), (e) => {
      assert.equal(e.retryable, false);
      assert.equal(e.attempts, 1);
    });
  });

  it('turns malformed 2xx JSON into API_BAD_RESPONSE without retrying', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(200, '{"id": "op1", "done": tru', JSON_HEADERS);
    await rejectsWith(execute(api), (e) => {
      assert.equal(e.code, 'API_BAD_RESPONSE');
      assert.equal(e.field, '(body)');
      assert.equal(e.httpStatus, 200);
      assert.equal(e.attempts, 1);
      assert.match(e.message, /200 with a body that is not JSON/);
    });
  });

  it('turns an empty 2xx body into API_BAD_RESPONSE', async () => {
    api.agent.get(DS).intercept({ path: EXECUTE_PATH, method: 'POST' }).reply(200, '', JSON_HEADERS);
    await rejectsWith(execute(api), (e) => assert.match(e.message, /200 with an empty body/));
  });

  it('turns a 2xx body that fails decoding into API_BAD_RESPONSE naming method, path and field', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(
        200,
        { id: 'op1', done: true, response: { '@type': 'x/ProjectExecutionResponse', executionStatus: [] } },
        JSON_HEADERS,
      );
    const error = await rejectsWith(execute(api), (e) => {
      assert.equal(e.code, 'API_BAD_RESPONSE');
      assert.equal(e.field, 'response.executionStatus');
      assert.equal(e.retryable, false);
    });
    assert.match(
      error.message,
      /^DataSphere Project\.Execute POST \/datasphere\/v2\/projects\/p1:execute failed: unexpected response: response\.executionStatus/,
    );
    assert.ok(isRunnerError(error));
    assert.ok(isApiError(error));
  });

  it('gives toJSON the facts and nothing secret', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(
        403,
        { code: 7, message: 'Permission denied' },
        { headers: { 'content-type': 'application/json', 'x-request-id': 'r' } },
      );
    await rejectsWith(execute(api), (e) => {
      const json = e.toJSON();
      assert.deepEqual(Object.keys(json).sort(), [
        'api',
        'apiMessage',
        'attempts',
        'clientTraceId',
        'code',
        'httpStatus',
        'message',
        'method',
        'name',
        'path',
        'requestId',
        'retryable',
        'rpc',
        'rpcCode',
        'rpcName',
      ]);
      assert.equal(json.name, 'ApiError');
    });
  });
});

describe('http transport: an Open session token never reaches an error or a log line', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  const SESSION = 'sess-Zq81xK0pL2mN4bV6cX8';
  const OPEN_PATH = '/datasphere/v2/projects/p1/open';
  const openResponse = `{"@type":"type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse","projectUrl":"https://ide.example/p1","sessionToken":"${SESSION}`;

  /** The error, its JSON, and the log line the product would write for it. */
  async function everythingSaidAbout(body: string, status = 200, contentType = 'application/json') {
    api.agent
      .get(DS)
      .intercept({ path: OPEN_PATH, method: 'POST' })
      .reply(status, body, { headers: { 'content-type': contentType } });
    let caught: unknown;
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), (error: unknown) => {
      caught = error;
      return true;
    });
    const lines: string[] = [];
    createLogger({ write: (line) => lines.push(line) }).error('open failed', { error: caught });
    const error = caught as Error;
    return [error.message, JSON.stringify(error), String(error.cause ?? ''), ...lines].join('\n');
  }

  it('a 2xx body cut off inside the token (not JSON)', async () => {
    for (const body of [
      `{"id":"op-open","done":true,"response":${openResponse}`,
      `{"id":"o","done":true,"response":{"projectUrl":"https://ide/p1","sessionToken":"${SESSION}`,
    ]) {
      const said = await everythingSaidAbout(body);
      assert.match(said, /not JSON/);
      assert.ok(!said.includes(SESSION.slice(0, 8)), said);
    }
  });

  it('a 2xx body whose token is not quoted (not JSON; the parser would quote it)', async () => {
    const said = await everythingSaidAbout(
      `{"id":"o","done":true,"response":{"projectUrl":"https://ide/p1","sessionToken": ${SESSION}}}`,
    );
    assert.match(said, /not JSON/);
    assert.ok(!said.includes(SESSION.slice(0, 8)), said);
  });

  it('a 2xx Operation whose other fields are wrong', async () => {
    const said = await everythingSaidAbout(`{"id":"op-open","done":"yes","response":${openResponse}"}}`);
    assert.match(said, /done/);
    assert.ok(!said.includes(SESSION.slice(0, 8)), said);
  });

  it('a 2xx Open response whose projectUrl has the wrong type', async () => {
    const said = await everythingSaidAbout(
      `{"id":"op-open","done":true,"response":{"@type":"x/OpenProjectResponse","projectUrl":7,"sessionToken":"${SESSION}"}}`,
    );
    assert.match(said, /response\.projectUrl/);
    assert.ok(!said.includes(SESSION.slice(0, 8)), said);
  });

  it('an error body echoing the token, as JSON or as text', async () => {
    for (const [body, type] of [
      [`{"code":3,"message":"bad request {\\"sessionToken\\":\\"${SESSION}\\"}"}`, 'application/json'],
      [`upstream said sessionToken=${SESSION}&x=1`, 'text/plain'],
      [`{"projectUrl":"https://ide.example/p1","sessionToken":"${SESSION}`, 'text/plain'],
    ] as const) {
      const said = await everythingSaidAbout(body, 400, type);
      assert.ok(!said.includes(SESSION.slice(0, 8)), said);
    }
  });
});

describe('http transport: retries', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi({ now: () => Date.parse('2026-01-01T00:00:00Z') });
  });
  afterEach(() => api.close());

  it('honours Retry-After seconds on a 429, then succeeds', async () => {
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(
        429,
        { code: 8, message: 'request limit exceeded' },
        { headers: { 'content-type': 'application/json', 'retry-after': '3' } },
      );
    pool.intercept({ path: EXECUTE_PATH, method: 'POST' }).reply(200, runningExecute(), JSON_HEADERS);
    const op = await execute(api);
    assert.equal(op.id, 'op1');
    assert.deepEqual(api.sleeps, [3000]);
  });

  it('honours Retry-After as an HTTP date, and the RetryInfo detail without the header', async () => {
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(
        503,
        { code: 14 },
        { headers: { 'content-type': 'application/json', 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' } },
      );
    pool
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(
        429,
        { code: 8, details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }] },
        JSON_HEADERS,
      );
    pool.intercept({ path: EXECUTE_PATH, method: 'POST' }).reply(200, runningExecute(), JSON_HEADERS);
    await execute(api);
    assert.deepEqual(api.sleeps, [5000, 1500]);
  });

  it('caps a long Retry-After at 30 s', async () => {
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(429, {}, { headers: { 'content-type': 'application/json', 'retry-after': '3600' } });
    pool.intercept({ path: EXECUTE_PATH, method: 'POST' }).reply(200, runningExecute(), JSON_HEADERS);
    await execute(api);
    assert.deepEqual(api.sleeps, [30_000]);
  });

  it('retries 503 with jittered backoff and reuses the idempotency key on every attempt', async () => {
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .reply(503, { code: 14, message: 'unavailable' }, JSON_HEADERS)
      .times(2);
    pool.intercept({ path: EXECUTE_PATH, method: 'POST' }).reply(200, runningExecute(), JSON_HEADERS);
    await execute(api);
    // random() = 0.5 → equal jitter gives 3/4 of each step: 500·0.75, 1000·0.75.
    assert.deepEqual(api.sleeps, [375, 750]);
    const calls = api.calls();
    assert.equal(calls.length, 3);
    assert.deepEqual(
      calls.map((c) => c.headers['idempotency-key']),
      ['key-1', 'key-1', 'key-1'],
    );
    assert.equal(new Set(calls.map((c) => c.headers['x-request-id'])).size, 3);
    assert.equal(new Set(calls.map((c) => c.headers['x-client-trace-id'])).size, 1);
    assert.deepEqual(
      calls.map((c) => c.body),
      Array(3).fill({ notebookId: 'nb.ipynb' }),
    );
  });

  it('retries a dropped connection, then succeeds', async () => {
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .replyWithError(new errors.SocketError('other side closed'));
    pool
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .replyWithError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    pool.intercept({ path: EXECUTE_PATH, method: 'POST' }).reply(200, runningExecute(), JSON_HEADERS);
    await execute(api);
    assert.equal(api.sleeps.length, 2);
  });

  it('reports API_UNREACHABLE with attempts when connections keep dropping', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .replyWithError(new errors.SocketError('other side closed'))
      .times(4);
    await rejectsWith(execute(api), (e) => {
      assert.equal(e.code, 'API_UNREACHABLE');
      assert.equal(e.attempts, 4);
      assert.equal(e.retryable, true);
      assert.match(e.message, /connection failed \(UND_ERR_SOCKET: other side closed\) \(after 4 attempts\)/);
    });
  });

  it('reports API_TIMEOUT when undici gives up waiting for headers, after retries', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .replyWithError(new errors.HeadersTimeoutError())
      .times(4);
    await rejectsWith(execute(api), (e) => {
      assert.equal(e.code, 'API_TIMEOUT');
      assert.equal(e.attempts, 4);
    });
  });

  it('does not retry an error no retry can fix, such as an unknown host', async () => {
    api.agent
      .get(DS)
      .intercept({ path: EXECUTE_PATH, method: 'POST' })
      .replyWithError(
        Object.assign(new Error('getaddrinfo ENOTFOUND datasphere.api.cloud.yandex.net'), {
          code: 'ENOTFOUND',
        }),
      );
    await rejectsWith(execute(api), (e) => {
      assert.equal(e.code, 'API_UNREACHABLE');
      assert.equal(e.retryable, false);
      assert.equal(e.attempts, 1);
    });
  });

  for (const [status, code] of [
    [403, 7],
    [400, 3],
    [404, 5],
  ] as const) {
    it(`never retries a ${status}`, async () => {
      api.agent
        .get(DS)
        .intercept({ path: EXECUTE_PATH, method: 'POST' })
        .reply(
          status,
          { code, message: 'no' },
          { headers: { 'content-type': 'application/json', 'retry-after': '1' } },
        );
      await rejectsWith(execute(api), (e) => assert.equal(e.attempts, 1));
      assert.equal(api.calls().length, 1);
      assert.deepEqual(api.sleeps, []);
    });
  }

  it('never retries a POST that has no idempotency key', async () => {
    const transport = createHttpTransport({
      dispatcher: api.agent,
      token: staticTokenSource(TOKEN),
      sleep: async () => {},
    });
    api.agent.get(DS).intercept({ path: '/x', method: 'POST' }).reply(503, {}, JSON_HEADERS);
    await rejectsWith(
      transport.request({
        api: 'DataSphere',
        rpc: 'X',
        method: 'POST',
        baseUrl: DS,
        path: '/x',
        body: {},
        decode: (j) => j,
      }),
      (e) => assert.equal(e.attempts, 1),
    );
  });
});

describe('http transport: timeouts and aborts', () => {
  let agent: MockAgent;
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
  });
  afterEach(async () => {
    agent.assertNoPendingInterceptors();
    await agent.close();
  });

  it('ends an attempt at the per-request timeout and retries it', async () => {
    const pool = agent.get(DS);
    pool
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, { id: 'op1' }, JSON_HEADERS)
      .delay(2_000);
    pool
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, { id: 'op1', done: true }, JSON_HEADERS);
    const sleeps: number[] = [];
    const transport = createHttpTransport({
      dispatcher: agent,
      token: staticTokenSource(TOKEN),
      timeoutMs: 20,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    const op = await transport.request({
      api: 'Operation',
      rpc: 'Operation.Get',
      method: 'GET',
      baseUrl: DS,
      path: '/operations/op1',
      decode: (json) => decodeOperation(json),
    });
    assert.equal(op.done, true);
    assert.equal(sleeps.length, 1);
  });

  it('reports API_TIMEOUT naming the limit when every attempt times out', async () => {
    agent
      .get(DS)
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, { id: 'op1' }, JSON_HEADERS)
      .delay(2_000)
      .times(2);
    const transport = createHttpTransport({
      dispatcher: agent,
      token: staticTokenSource(TOKEN),
      timeoutMs: 20,
      retry: createRetryPolicy({ maxAttempts: 2 }),
      sleep: async () => {},
    });
    await rejectsWith(
      transport.request({
        api: 'Operation',
        rpc: 'Operation.Get',
        method: 'GET',
        baseUrl: DS,
        path: '/operations/op1',
        decode: (j) => j,
      }),
      (e) => {
        assert.equal(e.code, 'API_TIMEOUT');
        assert.equal(e.attempts, 2);
        assert.equal(e.retryable, true);
        assert.match(e.message, /timed out \(no complete answer within 20 ms\) \(after 2 attempts\)/);
      },
    );
  });

  it('stops retrying at once when the caller aborts during the backoff', async () => {
    agent
      .get(DS)
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(503, { code: 14 }, JSON_HEADERS);
    const controller = new AbortController();
    let slept = 0;
    const transport = createHttpTransport({
      dispatcher: agent,
      token: staticTokenSource(TOKEN),
      sleep: async (_ms, signal) => {
        slept++;
        controller.abort(new Error('deadline reached'));
        if (signal?.aborted) throw signal.reason;
      },
    });
    await rejectsWith(
      transport.request({
        api: 'Operation',
        rpc: 'Operation.Get',
        method: 'GET',
        baseUrl: DS,
        path: '/operations/op1',
        signal: controller.signal,
        decode: (j) => j,
      }),
      (e) => {
        assert.equal(e.code, 'API_TIMEOUT');
        assert.equal(e.attempts, 1);
        assert.match(e.message, /aborted by the caller \(deadline reached\)/);
      },
    );
    assert.equal(slept, 1);
  });

  it('sends nothing when the caller signal is already aborted', async () => {
    const transport = createHttpTransport({ dispatcher: agent, token: staticTokenSource(TOKEN) });
    await rejectsWith(
      transport.request({
        api: 'Operation',
        rpc: 'Operation.Get',
        method: 'GET',
        baseUrl: DS,
        path: '/operations/op1',
        signal: AbortSignal.abort(),
        decode: (j) => j,
      }),
      (e) => assert.equal(e.attempts, 0),
    );
  });

  it('aborts an attempt in flight when the caller aborts', async () => {
    agent
      .get(DS)
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, { id: 'op1' }, JSON_HEADERS)
      .delay(2_000);
    const controller = new AbortController();
    const transport = createHttpTransport({
      dispatcher: agent,
      token: staticTokenSource(TOKEN),
      sleep: async () => {},
    });
    const pending = transport.request({
      api: 'Operation',
      rpc: 'Operation.Get',
      method: 'GET',
      baseUrl: DS,
      path: '/operations/op1',
      signal: controller.signal,
      decode: (j) => j,
    });
    setTimeout(() => controller.abort(), 10);
    await rejectsWith(pending, (e) => {
      assert.equal(e.code, 'API_TIMEOUT');
      assert.equal(e.attempts, 1);
      assert.match(e.message, /aborted by the caller/);
    });
  });

  it('turns a caller abort while the token is fetched into the same abort error', async () => {
    const controller = new AbortController();
    const slow = {
      getToken: (signal?: AbortSignal) =>
        new Promise<string>((_resolve, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          controller.abort(new Error('deadline reached'));
        }),
    };
    const transport = createHttpTransport({ dispatcher: agent, token: slow });
    await rejectsWith(
      transport.request({
        api: 'Operation',
        rpc: 'Operation.Get',
        method: 'GET',
        baseUrl: DS,
        path: '/operations/op1',
        signal: controller.signal,
        decode: (j) => j,
      }),
      (e) => {
        assert.equal(e.code, 'API_TIMEOUT');
        assert.equal(e.attempts, 0);
        assert.match(e.message, /aborted by the caller \(deadline reached\)/);
      },
    );
  });

  it('passes a token failure through unchanged and sends nothing', async () => {
    const failing = {
      getToken: async () => {
        throw Object.assign(new Error('no token'), { code: 'AUTH_UNAVAILABLE' });
      },
    };
    const transport = createHttpTransport({ dispatcher: agent, token: failing });
    await assert.rejects(
      transport.request({
        api: 'Operation',
        rpc: 'Operation.Get',
        method: 'GET',
        baseUrl: DS,
        path: '/operations/op1',
        decode: (j) => j,
      }),
      { code: 'AUTH_UNAVAILABLE' },
    );
  });
});
