import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import {
  CloudApiError,
  createCloudHttp,
  isPermissionDenied,
  OperationError,
  waitForOperation,
} from '../../deploy/cloud-http.ts';
import { type CredentialSources, resolveCredentials } from '../../deploy/credentials.ts';
import { YANDEX_ENDPOINTS } from '../../deploy/yandex-endpoints.ts';

const TOKEN = 't1.test-token';

function sources(
  env: Record<string, string>,
  yc: Record<string, string> = {},
): CredentialSources & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    env,
    runYc: async (args) => {
      calls.push(`yc ${args.join(' ')}`);
      return yc[args.join(' ')];
    },
    exchangeOauthToken: async (oauth) => {
      calls.push(`exchange ${oauth === 'y0_test-oauth' ? 'oauth' : '?'}`);
      return TOKEN;
    },
  };
}

describe('the deployer credentials', () => {
  it('come from YC_IAM_TOKEN, YC_CLOUD_ID and YC_FOLDER_ID without calling yc', async () => {
    const from = sources({ YC_IAM_TOKEN: TOKEN, YC_CLOUD_ID: 'b1gfakecloud', YC_FOLDER_ID: 'b1gfakefolder' });
    assert.deepEqual(await resolveCredentials(from), {
      iamToken: TOKEN,
      cloudId: 'b1gfakecloud',
      folderId: 'b1gfakefolder',
      tokenSource: 'YC_IAM_TOKEN',
    });
    assert.deepEqual(from.calls, []);
  });

  it('exchange YC_OAUTH_TOKEN for an IAM token', async () => {
    const from = sources({ YC_OAUTH_TOKEN: 'y0_test-oauth', YC_CLOUD_ID: 'c', YC_FOLDER_ID: 'f' });
    const credentials = await resolveCredentials(from);
    assert.equal(credentials.iamToken, TOKEN);
    assert.match(credentials.tokenSource, /YC_OAUTH_TOKEN/);
    assert.deepEqual(from.calls, ['exchange oauth']);
  });

  it('fall back to the yc CLI for the token, the cloud and the folder', async () => {
    const from = sources(
      {},
      {
        'iam create-token': TOKEN,
        'config get cloud-id': 'b1gfakecloud',
        'config get folder-id': 'b1gfakefolder',
      },
    );
    const credentials = await resolveCredentials(from);
    assert.deepEqual(
      [credentials.cloudId, credentials.folderId, credentials.tokenSource],
      ['b1gfakecloud', 'b1gfakefolder', 'yc iam create-token'],
    );
  });

  it('say everything that is missing when neither the environment nor yc has it', async () => {
    await assert.rejects(resolveCredentials(sources({})), (error: Error) => {
      assert.match(error.message, /a token: set YC_IAM_TOKEN or YC_OAUTH_TOKEN/);
      assert.match(error.message, /the cloud: set YC_CLOUD_ID/);
      assert.match(error.message, /the folder: set YC_FOLDER_ID/);
      return true;
    });
  });
});

describe('the REST client of the deploy', () => {
  let agent: MockAgent;
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
  });
  afterEach(async () => {
    await agent.close();
  });

  it('sends the IAM token as a bearer and parses the JSON answer', async () => {
    agent
      .get('https://serverless-functions.api.cloud.yandex.net')
      .intercept({
        path: '/functions/v1/functions?folderId=b1gfakefolder',
        method: 'GET',
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      .reply(
        200,
        { functions: [{ id: 'd4efake', name: 'f' }] },
        { headers: { 'content-type': 'application/json' } },
      );
    const http = createCloudHttp({ token: TOKEN, dispatcher: agent });
    assert.deepEqual(
      await http.call('GET', `${YANDEX_ENDPOINTS.functions}/functions/v1/functions?folderId=b1gfakefolder`),
      {
        functions: [{ id: 'd4efake', name: 'f' }],
      },
    );
    agent.assertNoPendingInterceptors();
  });

  it('fails with the status, the API message and the rpc code, never the token', async () => {
    agent
      .get('https://serverless-triggers.api.cloud.yandex.net')
      .intercept({ path: '/triggers/v1/triggers?folderId=b1gfakefolder', method: 'GET' })
      .reply(
        403,
        { code: 7, message: 'Permission denied' },
        { headers: { 'content-type': 'application/json' } },
      );
    const http = createCloudHttp({ token: TOKEN, dispatcher: agent });
    await assert.rejects(
      http.call('GET', `${YANDEX_ENDPOINTS.triggers}/triggers/v1/triggers?folderId=b1gfakefolder`),
      (error: Error) => {
        assert.ok(error instanceof CloudApiError);
        assert.equal(
          error.message,
          'GET https://serverless-triggers.api.cloud.yandex.net/triggers/v1/triggers: HTTP 403: Permission denied',
        );
        assert.equal(error.rpcCode, 7);
        assert.ok(isPermissionDenied(error));
        assert.ok(!error.message.includes(TOKEN));
        return true;
      },
    );
  });

  it('waits for an operation on the Operation API and reports its error', async () => {
    const ops = agent.get('https://operation.api.cloud.yandex.net');
    ops
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(200, { id: 'op1', done: false }, { headers: { 'content-type': 'application/json' } });
    ops
      .intercept({ path: '/operations/op1', method: 'GET' })
      .reply(
        200,
        { id: 'op1', done: true, response: { id: 'aje1' } },
        { headers: { 'content-type': 'application/json' } },
      );
    ops
      .intercept({ path: '/operations/op2', method: 'GET' })
      .reply(
        200,
        { id: 'op2', done: true, error: { code: 9, message: 'Quota limit exceeded' } },
        { headers: { 'content-type': 'application/json' } },
      );
    const http = createCloudHttp({ token: TOKEN, dispatcher: agent });
    const slept: number[] = [];
    const wait = {
      operationEndpoint: YANDEX_ENDPOINTS.operation,
      sleep: async (ms: number) => {
        slept.push(ms);
      },
    };
    assert.deepEqual(await waitForOperation(http, { id: 'op1', done: false }, 'creating x', wait), {
      id: 'aje1',
    });
    assert.deepEqual(slept, [250, 500]);
    await assert.rejects(
      waitForOperation(http, { id: 'op2', done: false }, 'creating y', wait),
      (error: Error) => {
        assert.ok(error instanceof OperationError);
        assert.equal(error.message, 'creating y: operation op2 failed: Quota limit exceeded');
        return true;
      },
    );
  });
});
