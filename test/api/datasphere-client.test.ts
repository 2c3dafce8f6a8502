import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ApiError } from '../../shared/api/api-error.ts';
import { openResultOf } from '../../shared/api/protojson.ts';
import { InvalidRequestError } from '../../shared/errors.ts';
import {
  createMockApi,
  DS,
  executeResponse,
  finishedOpen,
  JSON_HEADERS,
  type MockApi,
  runningExecute,
} from './mock-api.ts';

const OPEN_OP = finishedOpen();

describe('DataSphereClient.execute', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  it('posts every request field to :execute and decodes the Operation', async () => {
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:execute', method: 'POST' })
      .reply(200, runningExecute('op1'), JSON_HEADERS);
    const op = await api.datasphere.execute(
      'p1',
      {
        notebookId: '/home/jupyter/datasphere/project/daily_report.ipynb',
        inputVariables: { MODE: 'full', DAYS: 7, DRY: false },
        outputVariableNames: ['rows'],
        spec: 'c1.4',
        sparkConnectorId: 'spark1',
      },
      { idempotencyKey: '5f0c1a2b-0000-4000-8000-000000000001' },
    );
    assert.equal(op.id, 'op1');
    assert.equal(op.done, false);
    assert.equal(op.metadata?.notebookId, '/home/jupyter/datasphere/project/daily_report.ipynb');
    const [call] = api.calls();
    assert.deepEqual(call?.body, {
      notebookId: '/home/jupyter/datasphere/project/daily_report.ipynb',
      inputVariables: { MODE: 'full', DAYS: 7, DRY: false },
      outputVariableNames: ['rows'],
      spec: 'c1.4',
      sparkConnectorId: 'spark1',
    });
    assert.equal(call?.headers['idempotency-key'], '5f0c1a2b-0000-4000-8000-000000000001');
  });

  it('sends only the fields that are set', async () => {
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:execute', method: 'POST' })
      .reply(200, runningExecute(), JSON_HEADERS);
    await api.datasphere.execute('p1', { notebookId: 'nb.ipynb' }, { idempotencyKey: 'k' });
    assert.deepEqual(api.calls()[0]?.body, { notebookId: 'nb.ipynb' });
  });

  it('URL-encodes the project id', async () => {
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/a%2Fb%3Fc:execute', method: 'POST' })
      .reply(200, runningExecute(), JSON_HEADERS);
    await api.datasphere.execute('a/b?c', { notebookId: 'nb.ipynb' }, { idempotencyKey: 'k' });
  });

  it('decodes a finished execution with its status', async () => {
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:execute', method: 'POST' })
      .reply(200, runningExecute('op1', { done: true, response: executeResponse(2) }), JSON_HEADERS);
    const op = await api.datasphere.execute('p1', { notebookId: 'nb' }, { idempotencyKey: 'k' });
    assert.equal(op.response?.executionStatus, 'ERROR');
  });

  it('refuses to start without an idempotency key or a project id, sending nothing', () => {
    assert.throws(
      () => api.datasphere.execute('p1', { notebookId: 'nb' }, { idempotencyKey: '' }),
      InvalidRequestError,
    );
    assert.throws(
      () => api.datasphere.execute('', { notebookId: 'nb' }, { idempotencyKey: 'k' }),
      InvalidRequestError,
    );
    assert.equal(api.calls().length, 0);
  });
});

const COLON = '/datasphere/v2/projects/p1:open';
const SLASH = '/datasphere/v2/projects/p1/open';
const TEXT_HEADERS = { headers: { 'content-type': 'text/plain' } };

/** What each case answers on the first route tried (`/open`, the default) and on the other. */
function replyOn(api: MockApi, path: string, status: number, body: unknown) {
  api.agent
    .get(DS)
    .intercept({ path, method: 'POST' })
    .reply(status, body as object, typeof body === 'string' ? TEXT_HEADERS : JSON_HEADERS);
}

describe('DataSphereClient.openProject', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  it('posts an empty body to /open first, with the key, and remembers the route once it answered 2xx', async () => {
    assert.equal(api.datasphere.openPathStyle, 'slash');
    assert.equal(api.datasphere.openPathConfirmed, false);
    replyOn(api, SLASH, 200, OPEN_OP);
    const op = await api.datasphere.openProject('p1', { idempotencyKey: 'k-open' });
    assert.equal(op.metadata?.status, 'OPEN_PROJECT_STATUS_STARTING_IDE');
    assert.equal(op.response?.projectUrl, 'https://datasphere.yandex.cloud/p1');
    assert.equal(api.datasphere.openPathStyle, 'slash');
    assert.equal(api.datasphere.openPathConfirmed, true);
    const [call] = api.calls();
    assert.deepEqual(call?.body, {});
    assert.equal(call?.headers['idempotency-key'], 'k-open');
  });

  it('drops the session token from the answer and keeps projectUrl (openResultOf reads it)', async () => {
    replyOn(api, SLASH, 200, OPEN_OP);
    const op = await api.datasphere.openProject('p1', { idempotencyKey: 'k-open' });
    assert.equal('sessionToken' in (op.response ?? {}), false);
    assert.ok(!JSON.stringify(op).includes('session-secret'));
    assert.deepEqual(openResultOf(op), { projectUrl: 'https://datasphere.yandex.cloud/p1' });
  });

  const routeMissing: Array<[string, number, unknown]> = [
    ['a 404 without a google.rpc body (a proxy page)', 404, 'Not Found'],
    ['a google.rpc NOT_FOUND naming no resource', 404, { code: 5, message: 'Not Found' }],
    [
      "a gateway's unknown-route NOT_FOUND quoting the path",
      404,
      { code: 5, message: `Unknown method: POST ${SLASH}` },
    ],
    ['a 405', 405, { code: 12, message: 'Method Not Allowed' }],
    ['a 501 UNIMPLEMENTED', 501, { code: 12, message: 'not implemented' }],
  ];
  for (const [what, status, body] of routeMissing) {
    it(`falls back to :open with the same key on ${what}, and remembers :open after its 2xx`, async () => {
      replyOn(api, SLASH, status, body);
      replyOn(api, COLON, 200, OPEN_OP);
      replyOn(api, '/datasphere/v2/projects/p2:open', 200, { ...OPEN_OP, id: 'op-2' });
      await api.datasphere.openProject('p1', { idempotencyKey: 'k-open' });
      assert.equal(api.datasphere.openPathStyle, 'colon');
      assert.equal(api.datasphere.openPathConfirmed, true);
      const second = await api.datasphere.openProject('p2', { idempotencyKey: 'k-2' });
      assert.equal(second.id, 'op-2');
      assert.deepEqual(
        api.calls().map((c) => [c.path, c.headers['idempotency-key']]),
        [
          [SLASH, 'k-open'],
          [COLON, 'k-open'],
          ['/datasphere/v2/projects/p2:open', 'k-2'],
        ],
      );
    });
  }

  it('sends no second call for a NOT_FOUND naming the project, and keeps its route', async () => {
    replyOn(api, SLASH, 404, { code: 5, message: 'Project p1 not found' });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.path, SLASH);
      assert.equal(error.apiMessage, 'Project p1 not found');
      return true;
    });
    assert.equal(api.calls().length, 1);
    assert.equal(api.datasphere.openPathStyle, 'slash');
    // The next Open still goes to /open first.
    replyOn(api, '/datasphere/v2/projects/p2/open', 200, OPEN_OP);
    await api.datasphere.openProject('p2', { idempotencyKey: 'k-2' });
    assert.deepEqual(
      api.calls().map((c) => c.path),
      [SLASH, '/datasphere/v2/projects/p2/open'],
    );
  });

  it('sends no second call for a NOT_FOUND with a ResourceInfo detail, whatever its message', async () => {
    replyOn(api, SLASH, 404, {
      code: 5,
      message: 'Not found',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ResourceInfo',
          resourceType: 'project',
          resourceName: 'p1',
        },
      ],
    });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.deepEqual(error.resourceNames, ['p1']);
      return true;
    });
    assert.equal(api.calls().length, 1);
  });

  it('matches the project id as a whole token: "p10 not found" does not name p1', async () => {
    replyOn(api, SLASH, 404, { code: 5, message: 'Project p10 not found' });
    replyOn(api, COLON, 200, OPEN_OP);
    await api.datasphere.openProject('p1', { idempotencyKey: 'k' });
    assert.equal(api.calls().length, 2);
  });

  it('reports the first answer and remembers nothing when both routes answer the same NOT_FOUND', async () => {
    replyOn(api, SLASH, 404, { code: 5, message: 'Not Found' });
    replyOn(api, COLON, 404, { code: 5, message: 'Not Found' });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.path, SLASH);
      return true;
    });
    assert.equal(api.datasphere.openPathStyle, 'slash');
    assert.equal(api.datasphere.openPathConfirmed, false);
  });

  it('reports the fallback answer when it names the project, and remembers nothing', async () => {
    replyOn(api, SLASH, 404, 'no route');
    replyOn(api, COLON, 404, { code: 5, message: 'Project p1 not found' });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.path, COLON);
      assert.equal(error.apiMessage, 'Project p1 not found');
      return true;
    });
    assert.equal(api.datasphere.openPathStyle, 'slash');
  });

  it('does not fall back from a route that already answered 2xx when it later answers 404', async () => {
    replyOn(api, SLASH, 200, OPEN_OP);
    await api.datasphere.openProject('p1', { idempotencyKey: 'k-1' });
    replyOn(api, SLASH, 404, { code: 5, message: 'Not Found' });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k-2' }), { httpStatus: 404 });
    assert.equal(api.calls().length, 2);
    assert.equal(api.datasphere.openPathStyle, 'slash');
  });

  it('starts from the configured style', async () => {
    api = createMockApi({ openPathStyle: 'colon' });
    replyOn(api, COLON, 501, { code: 12, message: 'not implemented' });
    replyOn(api, SLASH, 200, OPEN_OP);
    await api.datasphere.openProject('p1', { idempotencyKey: 'k' });
    assert.equal(api.datasphere.openPathStyle, 'slash');
    assert.deepEqual(
      api.calls().map((c) => c.path),
      [COLON, SLASH],
    );
  });

  it('does not fall back on other errors (a 403)', async () => {
    replyOn(api, SLASH, 403, { code: 7, message: 'denied' });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), {
      code: 'API_ERROR',
      httpStatus: 403,
    });
    assert.equal(api.calls().length, 1);
  });

  it('never puts the session token into an error message', async () => {
    replyOn(api, SLASH, 200, { ...OPEN_OP, done: 'yes' });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'API_BAD_RESPONSE');
      assert.ok(!JSON.stringify(error).includes('session-secret'));
      assert.ok(!error.message.includes('session-secret'));
      return true;
    });
  });
});

describe('DataSphereClient.getProject and activateDockerImage', () => {
  let api: MockApi;
  beforeEach(() => {
    api = createMockApi();
  });
  afterEach(() => api.close());

  it('gets a project with GET and decodes it', async () => {
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1', method: 'GET' })
      .reply(
        200,
        { id: 'p1', name: 'reports', limits: { maxUnitsPerHour: 5 }, settings: { commitMode: 'AUTO' } },
        JSON_HEADERS,
      );
    const project = await api.datasphere.getProject('p1');
    assert.equal(project.name, 'reports');
    assert.equal(project.limits?.maxUnitsPerHour, '5');
    assert.equal(api.calls()[0]?.body, undefined);
  });

  it('activates a docker image with a POST carrying both ids and the key', async () => {
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/docker/activate', method: 'POST' })
      .reply(
        200,
        { id: 'op-d', done: true, response: { '@type': 'type.googleapis.com/google.protobuf.Empty' } },
        JSON_HEADERS,
      );
    const op = await api.datasphere.activateDockerImage(
      { projectId: 'p1', dockerId: 'd1' },
      { idempotencyKey: 'k-d' },
    );
    assert.equal(op.done, true);
    assert.equal(op.metadata, undefined);
    assert.deepEqual(op.response, { '@type': 'type.googleapis.com/google.protobuf.Empty' });
    assert.equal(op.error, undefined);
    assert.equal(openResultOf(op), undefined);
    const [call] = api.calls();
    assert.deepEqual(call?.body, { projectId: 'p1', dockerId: 'd1' });
    assert.equal(call?.headers['idempotency-key'], 'k-d');
  });
});

describe('DataSphereClient.openProject: bad input', () => {
  it('rejects (never throws) an empty project id or key, and sends nothing', async () => {
    const api = createMockApi();
    try {
      const call = (projectId: string, key: string) =>
        api.datasphere.openProject(projectId, { idempotencyKey: key });
      await assert.rejects(call('', 'k'), (error: unknown) => error instanceof InvalidRequestError);
      await assert.rejects(call('p1', ' '), (error: unknown) => error instanceof InvalidRequestError);
      await assert.rejects(
        api.operations.cancel(''),
        (error: unknown) => error instanceof InvalidRequestError,
      );
      assert.equal(api.calls().length, 0);
    } finally {
      await api.close();
    }
  });
});
