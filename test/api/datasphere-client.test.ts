import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ApiError } from '../../shared/api/api-error.ts';
import { InvalidRequestError } from '../../shared/errors.ts';
import {
  createMockApi,
  DS,
  executeResponse,
  JSON_HEADERS,
  type MockApi,
  runningExecute,
} from './mock-api.ts';

const OPEN_OP = {
  id: 'op-open',
  done: true,
  metadata: {
    '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectMetadata',
    projectId: 'p1',
    status: 'OPEN_PROJECT_STATUS_STARTING_IDE',
  },
  response: {
    '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse',
    projectUrl: 'https://datasphere.yandex.cloud/p1',
    sessionToken: 'session-secret',
  },
};

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

describe('DataSphereClient.openProject', () => {
  let api: MockApi;
  afterEach(() => api.close());

  it('posts an empty body to :open and decodes the session', async () => {
    api = createMockApi();
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:open', method: 'POST', body: '{}' })
      .reply(200, OPEN_OP, JSON_HEADERS);
    const op = await api.datasphere.openProject('p1', { idempotencyKey: 'k-open' });
    assert.equal(op.metadata?.status, 'OPEN_PROJECT_STATUS_STARTING_IDE');
    assert.equal(op.response?.projectUrl, 'https://datasphere.yandex.cloud/p1');
    assert.equal(api.datasphere.openPathStyle, 'colon');
    assert.equal(api.calls()[0]?.headers['idempotency-key'], 'k-open');
  });

  it('falls back from :open to /open on 404 with the same key, and remembers it', async () => {
    api = createMockApi();
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: '/datasphere/v2/projects/p1:open', method: 'POST' })
      .reply(404, 'Not Found', { headers: { 'content-type': 'text/plain' } });
    pool
      .intercept({ path: '/datasphere/v2/projects/p1/open', method: 'POST' })
      .reply(200, OPEN_OP, JSON_HEADERS);
    pool
      .intercept({ path: '/datasphere/v2/projects/p2/open', method: 'POST' })
      .reply(200, { ...OPEN_OP, id: 'op-2' }, JSON_HEADERS);
    await api.datasphere.openProject('p1', { idempotencyKey: 'k-open' });
    assert.equal(api.datasphere.openPathStyle, 'slash');
    const second = await api.datasphere.openProject('p2', { idempotencyKey: 'k-2' });
    assert.equal(second.id, 'op-2');
    assert.deepEqual(
      api.calls().map((c) => [c.path, c.headers['idempotency-key']]),
      [
        ['/datasphere/v2/projects/p1:open', 'k-open'],
        ['/datasphere/v2/projects/p1/open', 'k-open'],
        ['/datasphere/v2/projects/p2/open', 'k-2'],
      ],
    );
  });

  it('falls back on 501 too, and starts from the configured style', async () => {
    api = createMockApi({ openPathStyle: 'slash' });
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: '/datasphere/v2/projects/p1/open', method: 'POST' })
      .reply(501, { code: 12, message: 'not implemented' }, JSON_HEADERS);
    pool
      .intercept({ path: '/datasphere/v2/projects/p1:open', method: 'POST' })
      .reply(200, OPEN_OP, JSON_HEADERS);
    await api.datasphere.openProject('p1', { idempotencyKey: 'k' });
    assert.equal(api.datasphere.openPathStyle, 'colon');
  });

  it('reports the first answer when both paths are missing, and remembers nothing', async () => {
    api = createMockApi();
    const pool = api.agent.get(DS);
    pool
      .intercept({ path: '/datasphere/v2/projects/p1:open', method: 'POST' })
      .reply(404, { code: 5, message: 'project p1 not found' }, JSON_HEADERS);
    pool
      .intercept({ path: '/datasphere/v2/projects/p1/open', method: 'POST' })
      .reply(404, 'no route', { headers: { 'content-type': 'text/plain' } });
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.path, '/datasphere/v2/projects/p1:open');
      assert.equal(error.apiMessage, 'project p1 not found');
      return true;
    });
    assert.equal(api.datasphere.openPathStyle, 'colon');
  });

  it('does not fall back on other errors', async () => {
    api = createMockApi();
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:open', method: 'POST' })
      .reply(403, { code: 7, message: 'denied' }, JSON_HEADERS);
    await assert.rejects(api.datasphere.openProject('p1', { idempotencyKey: 'k' }), {
      code: 'API_ERROR',
      httpStatus: 403,
    });
    assert.equal(api.calls().length, 1);
  });

  it('never puts the session token into an error message', async () => {
    api = createMockApi();
    api.agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:open', method: 'POST' })
      .reply(200, { ...OPEN_OP, done: 'yes' }, JSON_HEADERS);
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
    assert.equal(op.response?.['@type'], 'type.googleapis.com/google.protobuf.Empty');
    const [call] = api.calls();
    assert.deepEqual(call?.body, { projectId: 'p1', dockerId: 'd1' });
    assert.equal(call?.headers['idempotency-key'], 'k-d');
  });
});
