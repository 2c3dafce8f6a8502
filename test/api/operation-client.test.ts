import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { OperationClient } from '../../shared/api/operation-client.ts';
import { EXECUTE_PAYLOADS } from '../../shared/api/protojson.ts';
import {
  createMockApi,
  executeResponse,
  JSON_HEADERS,
  type MockApi,
  OPS,
  runningExecute,
} from './mock-api.ts';

describe('OperationClient.get', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  it('gets an operation and, with payload decoders, types its response', async () => {
    api.agent
      .get(OPS)
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, runningExecute('op1', { done: true, response: executeResponse('OK') }), JSON_HEADERS);
    const op = await api.operations.get('op1', { payloads: EXECUTE_PAYLOADS });
    assert.equal(op.done, true);
    assert.equal(op.response?.executionStatus, 'OK');
    assert.equal(op.metadata?.projectId, 'p1');
  });

  it('keeps payloads as Any messages without decoders', async () => {
    api.agent
      .get(OPS)
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, runningExecute('op1'), JSON_HEADERS);
    const op = await api.operations.get('op1');
    assert.equal(
      op.metadata?.['@type'],
      'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionMetadata',
    );
  });

  it('surfaces a 404 on a fresh operation as a non-retried NOT_FOUND for the core to judge', async () => {
    api.agent
      .get(OPS)
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(404, { code: 5, message: 'Operation op1 not found' }, JSON_HEADERS);
    await assert.rejects(api.operations.get('op1'), {
      name: 'ApiError',
      code: 'API_ERROR',
      httpStatus: 404,
      rpcName: 'NOT_FOUND',
      api: 'Operation',
      rpc: 'Operation.Get',
      attempts: 1,
    });
  });

  it('retries a 503 on Get and then succeeds', async () => {
    const pool = api.agent.get(OPS);
    pool
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(503, { code: 14, message: 'unavailable' }, JSON_HEADERS);
    pool
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, runningExecute('op1'), JSON_HEADERS);
    const op = await api.operations.get('op1');
    assert.equal(op.id, 'op1');
    assert.equal(api.sleeps.length, 1);
  });

  it('URL-encodes the operation id and refuses an empty one', async () => {
    api.agent
      .get(OPS)
      .intercept({ path: '/operations/a%2Fb', method: 'GET' })
      .reply(200, { id: 'a/b' }, JSON_HEADERS);
    await api.operations.get('a/b');
    assert.throws(() => api.operations.get(''), { code: 'INVALID_REQUEST' });
  });
});

describe('OperationClient.cancel', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  it('cancels with GET :cancel as the proto says', async () => {
    api.agent
      .get(OPS)
      .intercept({ path: '/operations/op1:cancel', method: 'GET' })
      .reply(200, runningExecute('op1'), JSON_HEADERS);
    const op = await api.operations.cancel('op1');
    assert.equal(op.id, 'op1');
    assert.equal(api.operations.cancelMethod, 'GET');
  });

  const methodMissing: Array<[string, number, unknown]> = [
    ['a 404 without a google.rpc body', 404, 'nope'],
    ['a google.rpc NOT_FOUND naming no operation', 404, { code: 5, message: 'Not Found' }],
    ['a 405', 405, ''],
    ['a 501', 501, { code: 12, message: 'Method not implemented' }],
  ];
  for (const [what, status, body] of methodMissing) {
    it(`falls back to POST on ${what}, and remembers POST after its 2xx`, async () => {
      const pool = api.agent.get(OPS);
      pool
        .intercept({ path: '/operations/op1:cancel', method: 'GET' })
        .reply(
          status,
          body as object,
          typeof body === 'string' ? { headers: { 'content-type': 'text/plain' } } : JSON_HEADERS,
        );
      pool
        .intercept({ path: '/operations/op1:cancel', method: 'POST' })
        .reply(200, runningExecute('op1'), JSON_HEADERS);
      pool
        .intercept({ path: '/operations/op2:cancel', method: 'POST' })
        .reply(200, runningExecute('op2'), JSON_HEADERS);
      await api.operations.cancel('op1');
      assert.equal(api.operations.cancelMethod, 'POST');
      assert.equal(api.operations.cancelMethodConfirmed, true);
      await api.operations.cancel('op2');
      assert.deepEqual(
        api.calls().map((c) => `${c.method} ${c.path}`),
        ['GET /operations/op1:cancel', 'POST /operations/op1:cancel', 'POST /operations/op2:cancel'],
      );
    });
  }

  it('sends no POST for a NOT_FOUND naming the operation (not visible yet, or gone), and stays on GET', async () => {
    const pool = api.agent.get(OPS);
    pool
      .intercept({ path: '/operations/op1:cancel', method: 'GET' })
      .reply(404, { code: 5, message: 'Operation op1 not found' }, JSON_HEADERS);
    await assert.rejects(api.operations.cancel('op1'), {
      httpStatus: 404,
      method: 'GET',
      apiMessage: 'Operation op1 not found',
    });
    assert.equal(api.calls().length, 1);
    assert.equal(api.operations.cancelMethod, 'GET');
    // A moment later the operation is visible: the same method, no flip.
    pool
      .intercept({ path: '/operations/op1:cancel', method: 'GET' })
      .reply(200, runningExecute('op1'), JSON_HEADERS);
    await api.operations.cancel('op1');
    assert.deepEqual(
      api.calls().map((c) => c.method),
      ['GET', 'GET'],
    );
    assert.equal(api.operations.cancelMethodConfirmed, true);
  });

  it('reports the GET answer and remembers nothing when both methods answer the same NOT_FOUND', async () => {
    const pool = api.agent.get(OPS);
    for (const method of ['GET', 'POST']) {
      pool
        .intercept({ path: '/operations/op1:cancel', method })
        .reply(404, { code: 5, message: 'Not Found' }, JSON_HEADERS);
    }
    await assert.rejects(api.operations.cancel('op1'), { httpStatus: 404, method: 'GET' });
    assert.equal(api.calls().length, 2);
    assert.equal(api.operations.cancelMethod, 'GET');
    assert.equal(api.operations.cancelMethodConfirmed, false);
  });

  it('does not fall back from GET once GET answered 2xx, when a later GET answers 404', async () => {
    const pool = api.agent.get(OPS);
    pool
      .intercept({ path: '/operations/op1:cancel', method: 'GET' })
      .reply(200, runningExecute('op1'), JSON_HEADERS);
    pool
      .intercept({ path: '/operations/op2:cancel', method: 'GET' })
      .reply(404, 'Not Found', { headers: { 'content-type': 'text/plain' } });
    await api.operations.cancel('op1');
    await assert.rejects(api.operations.cancel('op2'), { httpStatus: 404, method: 'GET' });
    assert.equal(api.calls().length, 2);
  });

  it('keeps GET when another cancel proved it while this one was falling back to POST', async () => {
    const pool = api.agent.get(OPS);
    pool
      .intercept({ path: '/operations/op1:cancel', method: 'GET' })
      .reply(404, { code: 5, message: 'Not Found' }, JSON_HEADERS);
    pool
      .intercept({ path: '/operations/op1:cancel', method: 'POST' })
      .reply(200, runningExecute('op1'), JSON_HEADERS)
      .delay(80);
    pool
      .intercept({ path: '/operations/op2:cancel', method: 'GET' })
      .reply(200, runningExecute('op2'), JSON_HEADERS)
      .delay(20);
    await Promise.all([api.operations.cancel('op1'), api.operations.cancel('op2')]);
    assert.equal(api.operations.cancelMethod, 'GET');
    assert.equal(api.operations.cancelMethodConfirmed, true);
  });

  it('does not fall back on a 403', async () => {
    api.agent
      .get(OPS)
      .intercept({ path: '/operations/op1:cancel', method: 'GET' })
      .reply(403, { code: 7, message: 'denied' }, JSON_HEADERS);
    await assert.rejects(api.operations.cancel('op1'), { httpStatus: 403, method: 'GET' });
    assert.equal(api.calls().length, 1);
  });

  it('retries a key-less cancel POST, since cancelling twice is harmless', async () => {
    const client = new OperationClient({ transport: api.transport, cancelMethod: 'POST' });
    const pool = api.agent.get(OPS);
    pool.intercept({ path: '/operations/op1:cancel', method: 'POST' }).reply(503, { code: 14 }, JSON_HEADERS);
    pool
      .intercept({ path: '/operations/op1:cancel', method: 'POST' })
      .reply(200, runningExecute('op1'), JSON_HEADERS);
    await client.cancel('op1');
    assert.equal(api.calls().length, 2);
    assert.equal(api.calls()[0]?.headers['idempotency-key'], undefined);
  });
});
