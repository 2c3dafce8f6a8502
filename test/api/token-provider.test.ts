import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { createTokenProvider, metadataUrlFor } from '../../shared/api/token-provider.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { JSON_HEADERS } from './mock-api.ts';

const METADATA = 'http://169.254.169.254';
const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
const META_TOKEN = 't1.metadata-test-token';

function tokenAnswer(token: string, expiresIn = 43_200) {
  return { access_token: token, expires_in: expiresIn, token_type: 'Bearer' };
}

describe('createTokenProvider', () => {
  let agent: MockAgent;
  let clock: number;
  const now = () => clock;

  beforeEach(() => {
    agent = new MockAgent({ enableCallHistory: true });
    agent.disableNetConnect();
    clock = 1_000_000;
  });
  afterEach(async () => {
    agent.assertNoPendingInterceptors();
    await agent.close();
  });

  const metadataCalls = () => agent.getCallHistory()?.calls().length ?? 0;

  it('uses the invocation context token first', async () => {
    const provider = createTokenProvider({
      env: { YC_IAM_TOKEN: 't1.env-test-token' },
      dispatcher: agent,
      now,
    });
    const source = provider.forContext({
      token: { access_token: 't1.context-test-token', expires_in: 43_200 },
    });
    assert.equal(await source.getToken(), 't1.context-test-token');
    assert.equal(metadataCalls(), 0);
  });

  it('falls back to YC_IAM_TOKEN when the context has no token', async () => {
    const provider = createTokenProvider({
      env: { YC_IAM_TOKEN: ' t1.env-test-token ' },
      dispatcher: agent,
      now,
    });
    assert.equal(await provider.forContext({}).getToken(), 't1.env-test-token');
    assert.equal(await provider.forContext({ token: { access_token: '' } }).getToken(), 't1.env-test-token');
    assert.equal(await provider.forContext().getToken(), 't1.env-test-token');
    assert.equal(metadataCalls(), 0);
  });

  it('asks the metadata service with Metadata-Flavor: Google when nothing else has a token', async () => {
    agent
      .get(METADATA)
      .intercept({ path: TOKEN_PATH, method: 'GET', headers: { 'metadata-flavor': 'Google' } })
      .reply(200, tokenAnswer(META_TOKEN), JSON_HEADERS);
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now });
    assert.equal(await provider.forContext().getToken(), META_TOKEN);
  });

  it('caches the metadata token until shortly before it expires, then refreshes', async () => {
    const pool = agent.get(METADATA);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer('t1.first-test-token', 43_200), JSON_HEADERS);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer('t1.second-test-token', 43_200), JSON_HEADERS);
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now });
    const source = provider.forContext();
    assert.equal(await source.getToken(), 't1.first-test-token');
    clock += 43_200_000 - 300_000 - 1; // one ms before the 5-minute margin
    assert.equal(await provider.forContext().getToken(), 't1.first-test-token');
    assert.equal(metadataCalls(), 1);
    clock += 1;
    assert.equal(await source.getToken(), 't1.second-test-token');
    assert.equal(metadataCalls(), 2);
  });

  it('refreshes a short-lived token at 90 % of its lifetime', async () => {
    const pool = agent.get(METADATA);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer('t1.first-test-token', 100), JSON_HEADERS);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer('t1.second-test-token', 100), JSON_HEADERS);
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now });
    await provider.forContext().getToken();
    clock += 89_999;
    assert.equal(await provider.forContext().getToken(), 't1.first-test-token');
    clock += 1;
    assert.equal(await provider.forContext().getToken(), 't1.second-test-token');
  });

  it('shares one metadata fetch among concurrent callers', async () => {
    agent
      .get(METADATA)
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer(META_TOKEN), JSON_HEADERS)
      .delay(20);
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now });
    const tokens = await Promise.all(Array.from({ length: 8 }, () => provider.forContext().getToken()));
    assert.deepEqual(new Set(tokens), new Set([META_TOKEN]));
    assert.equal(metadataCalls(), 1);
  });

  it('lets one caller give up on its signal without failing the shared fetch', async () => {
    agent
      .get(METADATA)
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer(META_TOKEN), JSON_HEADERS)
      .delay(30);
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now });
    const controller = new AbortController();
    const impatient = provider.forContext().getToken(controller.signal);
    const patient = provider.forContext().getToken();
    controller.abort(new Error('gave up'));
    await assert.rejects(impatient, /gave up/);
    assert.equal(await patient, META_TOKEN);
  });

  it('retries the metadata service once and then fails with a plain AUTH_UNAVAILABLE', async () => {
    agent
      .get(METADATA)
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .replyWithError(
        Object.assign(new Error('connect ECONNREFUSED 169.254.169.254:80'), { code: 'ECONNREFUSED' }),
      )
      .times(2);
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now });
    await assert.rejects(provider.forContext().getToken(), (error: unknown) => {
      assert.ok(isRunnerError(error));
      assert.equal(error.code, 'AUTH_UNAVAILABLE');
      assert.match(error.message, /invocation context carries none/);
      assert.match(error.message, /YC_IAM_TOKEN is not set/);
      assert.match(
        error.message,
        /metadata service at http:\/\/169\.254\.169\.254\/computeMetadata\/v1\/instance\/service-accounts\/default\/token failed/,
      );
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
    assert.equal(metadataCalls(), 2);
  });

  it('reports a timeout, an HTTP error and a body without a token without quoting the body', async () => {
    const pool = agent.get(METADATA);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer(META_TOKEN), JSON_HEADERS)
      .delay(500);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(404, 'not here', { headers: { 'content-type': 'text/plain' } });
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now, metadataTimeoutMs: 20 });
    await assert.rejects(provider.forContext().getToken(), /no answer within 20 ms; HTTP 404/);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, { token: 't1.odd-test-token' }, JSON_HEADERS)
      .times(2);
    await assert.rejects(provider.forContext().getToken(), (error: Error) => {
      assert.match(error.message, /answer has no access_token\)$/);
      assert.ok(!error.message.includes('odd-test-token'));
      return true;
    });
  });

  it('keeps using a still-valid cached token when a refresh fails', async () => {
    const pool = agent.get(METADATA);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer(META_TOKEN, 1000), JSON_HEADERS);
    pool
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(503, '', { headers: { 'content-type': 'text/plain' } })
      .times(2);
    const provider = createTokenProvider({ env: {}, dispatcher: agent, now });
    await provider.forContext().getToken();
    clock += 950_000; // past the refresh point, before expiry
    assert.equal(await provider.forContext().getToken(), META_TOKEN);
  });

  it('honours YC_METADATA_ADDR and an explicit metadata URL', async () => {
    agent
      .get('http://10.0.0.5:8080')
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply(200, tokenAnswer(META_TOKEN), JSON_HEADERS);
    const provider = createTokenProvider({
      env: { YC_METADATA_ADDR: '10.0.0.5:8080' },
      dispatcher: agent,
      now,
    });
    assert.equal(await provider.forContext().getToken(), META_TOKEN);
    agent
      .get('http://127.0.0.1:1')
      .intercept({ path: '/token', method: 'GET' })
      .reply(200, tokenAnswer(META_TOKEN), JSON_HEADERS);
    const explicit = createTokenProvider({
      env: { YC_METADATA_ADDR: 'ignored' },
      dispatcher: agent,
      now,
      metadataUrl: 'http://127.0.0.1:1/token',
    });
    assert.equal(await explicit.forContext().getToken(), META_TOKEN);
    assert.equal(metadataUrlFor(undefined), `${METADATA}${TOKEN_PATH}`);
    assert.equal(metadataUrlFor('https://meta.local/'), `https://meta.local${TOKEN_PATH}`);
  });
});
