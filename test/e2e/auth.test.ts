/**
 * Authentication through the built functions, the local front door acting as the API Gateway (the
 * `/runs…` routes) and the Document API ledger (dynalite behind a counting proxy): deny by default.
 * Counted for every refusal: DataSphere requests (the emulator's log) and ledger requests (the proxy).
 *
 * Callers (all obviously fake): ALICE's IAM token reads p-alice, BOB's reads p-bob, EXPIRED is refused
 * by DataSphere (401); key CI may act on p-alice, key OPS on every allowed project. The functions' own
 * (service account) token is SA_TOKEN.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type CountingProxy, startCountingProxy } from '../../bench/counting-proxy.ts';
import { apiKeyEntryLine } from '../../shared/auth/api-keys.ts';
import { docApiStoreEnv, startDynalite } from '../ledger/dynalite-server.ts';
import {
  type BuiltBundles,
  buildBundles,
  type Harness,
  type HttpAnswer,
  invocationAnswer,
  startHarness,
} from './support/harness.ts';

const SA_TOKEN = 't1.fake-functions-service-account-token-0000';
const ALICE = 't1.fake-alice-iam-token-00000000000000000000';
const BOB = 't1.fake-bob-iam-token-0000000000000000000000';
const EXPIRED = 't1.fake-expired-iam-token-000000000000000000';
const CI_KEY = 'dsr_fake-ci-key-for-p-alice-0000000000000000';
const OPS_KEY = 'dsr_fake-ops-key-for-every-project-0000000000';
const SECRETS = [ALICE, BOB, EXPIRED, CI_KEY, OPS_KEY];

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const apiKey = (key: string) => ({ 'X-Api-Key': key });

let bundles: BuiltBundles | undefined;
let dynalite: Awaited<ReturnType<typeof startDynalite>> | undefined;
// The bench's metering proxy in front of dynalite: every Document API request the functions make.
let proxy: CountingProxy | undefined;
let ledgerCount = 0;
let harness: Harness | undefined;
const h = (): Harness => {
  if (harness === undefined) throw new Error('the platform did not start');
  return harness;
};
const ledgerRequests = (): number => ledgerCount;
const emulatorRequests = (): number => h().emulator.requests.length;
const projectGets = () =>
  h().emulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/datasphere/v2/projects/'));

/** What `work` cost: DataSphere and ledger requests. */
async function counted<T>(work: () => Promise<T>): Promise<{ value: T; api: number; ledger: number }> {
  const api = emulatorRequests();
  const ledger = ledgerRequests();
  const value = await work();
  return { value, api: emulatorRequests() - api, ledger: ledgerRequests() - ledger };
}

function assertError(answer: HttpAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.json?.error?.code, code, answer.text);
  for (const secret of SECRETS) assert.ok(!answer.text.includes(secret), 'no credential in an answer');
}

let aliceRun = '';
let bobRun = '';

before(async () => {
  bundles = await buildBundles();
  dynalite = await startDynalite();
  proxy = await startCountingProxy({
    target: dynalite.endpoint,
    phase: () => 'auth',
    onExchange: () => {
      ledgerCount++;
    },
  });
  harness = await startHarness({
    distDir: bundles.distDir,
    emulator: {
      token: SA_TOKEN,
      tokenProjects: { [ALICE]: ['p-alice'], [BOB]: ['p-bob'] },
      durationMs: 60_000,
    },
    env: {
      ...docApiStoreEnv(proxy.url, `e2e_auth_${randomUUID().slice(0, 8)}`),
      YC_IAM_TOKEN: SA_TOKEN,
      ALLOWED_PROJECTS: 'p-alice,p-bob',
      API_KEYS: `${apiKeyEntryLine('ci', CI_KEY, ['p-alice'])};${apiKeyEntryLine('ops', OPS_KEY, '*')}`,
    },
  });
  // One run of each project, started by their owners (this also settles the ledger's table).
  const a = await h().request('POST', '/runs', {
    headers: bearer(ALICE),
    body: { projectId: 'p-alice', notebookId: 'a.ipynb' },
  });
  const b = await h().request('POST', '/runs', {
    headers: bearer(BOB),
    body: { projectId: 'p-bob', notebookId: 'b.ipynb' },
  });
  assert.equal(a.status, 202, a.text);
  assert.equal(b.status, 202, b.text);
  aliceRun = String(a.json?.runId);
  bobRun = String(b.json?.runId);
});

after(async () => {
  await harness?.close();
  await proxy?.close();
  await dynalite?.close();
  bundles?.remove();
});

const routes = () =>
  [
    ['POST', '/runs', { projectId: 'p-alice', notebookId: 'x.ipynb' }],
    ['GET', '/runs', undefined],
    ['GET', `/runs/${aliceRun}`, undefined],
    ['POST', `/runs/${aliceRun}/cancel`, undefined],
  ] as const;

describe('the HTTP API is authenticated, deny by default (built functions, front door as the gateway)', () => {
  it('answers a caller without credentials 401 UNAUTHENTICATED with WWW-Authenticate, on every route, nothing called or read', async () => {
    for (const [method, path, body] of routes()) {
      const { value, api, ledger } = await counted(() =>
        h().request(method, path, { body, anonymous: true }),
      );
      assertError(value, 401, 'UNAUTHENTICATED');
      assert.match(value.headers.get('www-authenticate') ?? '', /^Bearer realm="datasphere-runner", ApiKey/);
      assert.equal(
        value.json?.error?.message,
        'credentials required: an IAM token in Authorization (scheme "Bearer"), or an API key in X-Api-Key',
      );
      assert.deepEqual([api, ledger], [0, 0], `${method} ${path}`);
    }
  });

  it('answers a malformed credential or an unknown API key 401, nothing called or read', async () => {
    const wrong: Record<string, string>[] = [
      { Authorization: 'Basic dXNlcjpwYXNzd29yZA==' },
      { Authorization: 'Bearer' },
      apiKey('dsr_fake-unknown-key-00000000000000000000000'),
      apiKey('short'),
      { ...bearer(ALICE), ...apiKey('dsr_fake-unknown-key-00000000000000000000000') },
    ];
    for (const headers of wrong) {
      for (const [method, path, body] of routes()) {
        const { value, api, ledger } = await counted(() => h().request(method, path, { body, headers }));
        assertError(value, 401, 'UNAUTHENTICATED');
        assert.deepEqual([api, ledger], [0, 0], `${JSON.stringify(headers)} ${method} ${path}`);
      }
    }
  });

  it('answers an invalid or expired token 401 after one Project.Get with it, then with no call; the ledger is never read', async () => {
    let api = 0;
    for (const [method, path, body] of routes()) {
      const result = await counted(() => h().request(method, path, { body, headers: bearer(EXPIRED) }));
      assertError(result.value, 401, 'UNAUTHENTICATED');
      assert.match(String(result.value.json?.error?.message), /IAM token is invalid or has expired/);
      assert.equal(result.ledger, 0, `${method} ${path}`);
      api += result.api;
      // A second call to the same (warm) function: the token is known bad, nothing is asked.
      const again = await counted(() => h().request(method, path, { body, headers: bearer(EXPIRED) }));
      assertError(again.value, 401, 'UNAUTHENTICATED');
      assert.deepEqual([again.api, again.ledger], [0, 0]);
    }
    // One per function instance: execute, check (status and list share it), cancel.
    assert.equal(api, 3);
  });

  it('refuses a start in a project the caller may not act on: 403 FORBIDDEN, nothing started or stored', async () => {
    const key = await counted(() =>
      h().request('POST', '/runs', {
        headers: apiKey(CI_KEY),
        body: { projectId: 'p-bob', notebookId: 'x.ipynb' },
      }),
    );
    assertError(key.value, 403, 'FORBIDDEN');
    assert.equal(key.value.json?.error?.field, 'projectId');
    assert.deepEqual([key.api, key.ledger], [0, 0], 'an API key is decided without a call');
    const token = await counted(() =>
      h().request('POST', '/runs', {
        headers: bearer(ALICE),
        body: { projectId: 'p-bob', notebookId: 'x.ipynb' },
      }),
    );
    assertError(token.value, 403, 'FORBIDDEN');
    assert.deepEqual([token.api, token.ledger], [1, 0], 'one Project.Get with the caller token, no ledger');
    assert.equal(h().executeRequests('p-bob').length, 1, 'only bob\u2019s own start reached Execute');
    // ALLOWED_PROJECTS still stands above every caller: the documented 403 PROJECT_NOT_ALLOWED.
    const outside = await counted(() =>
      h().request('POST', '/runs', {
        headers: apiKey(OPS_KEY),
        body: { projectId: 'p-other', notebookId: 'x.ipynb' },
      }),
    );
    assertError(outside.value, 403, 'PROJECT_NOT_ALLOWED');
    assert.deepEqual([outside.api, outside.ledger], [0, 0]);
  });

  it('hides a run of another project: status and cancel answer 404 exactly as for an absent run, nothing cancelled', async () => {
    const absent = await h().request('GET', '/runs/no-such-run', { headers: bearer(BOB) });
    const hidden = await h().request('GET', `/runs/${aliceRun}`, { headers: bearer(BOB) });
    assertError(absent, 404, 'RUN_NOT_FOUND');
    assertError(hidden, 404, 'RUN_NOT_FOUND');
    assert.equal(hidden.text.replace(aliceRun, '<id>'), absent.text.replace('no-such-run', '<id>'));
    const byKey = await h().request('GET', `/runs/${aliceRun}`, {
      headers: apiKey('dsr_fake-unknown-key-00000000000000000000000'),
    });
    assertError(byKey, 401, 'UNAUTHENTICATED');
    const cancels = () => h().emulator.requests.filter((r) => r.path.endsWith(':cancel')).length;
    const before = cancels();
    assertError(
      await h().request('POST', `/runs/${aliceRun}/cancel`, { headers: bearer(BOB) }),
      404,
      'RUN_NOT_FOUND',
    );
    assertError(
      await h().request('GET', `/runs/${bobRun}`, { headers: apiKey(CI_KEY) }),
      404,
      'RUN_NOT_FOUND',
    );
    assertError(
      await h().request('POST', `/runs/${bobRun}/cancel`, { headers: apiKey(CI_KEY) }),
      404,
      'RUN_NOT_FOUND',
    );
    assert.equal(cancels(), before);
    const still = await h().request('GET', `/runs/${aliceRun}`, { headers: bearer(ALICE) });
    assert.equal(still.status, 200, still.text);
    assert.equal(still.json?.cancelRequestedAt, undefined);
  });

  it('lists only runs of projects the caller may read, and refuses a projectId filter of another project', async () => {
    const ids = async (headers: Record<string, string>, query = '') => {
      const answer = await h().request('GET', `/runs${query}`, { headers });
      assert.equal(answer.status, 200, answer.text);
      return ((answer.json?.runs ?? []) as { runId: string; projectId: string }[]).map((r) => r.runId);
    };
    assert.deepEqual(await ids(bearer(BOB)), [bobRun]);
    assert.deepEqual((await ids(bearer(ALICE))).includes(bobRun), false);
    assert.ok((await ids(bearer(ALICE))).includes(aliceRun));
    assert.deepEqual((await ids(apiKey(CI_KEY))).includes(bobRun), false);
    assert.deepEqual(
      new Set(await ids(apiKey(OPS_KEY))),
      new Set([aliceRun, bobRun, ...(await ids(apiKey(OPS_KEY)))]),
    );
    assert.ok((await ids(apiKey(OPS_KEY))).includes(bobRun));
    assertError(
      await h().request('GET', '/runs?projectId=p-alice', { headers: bearer(BOB) }),
      403,
      'FORBIDDEN',
    );
    assertError(
      await h().request('GET', '/runs?projectId=p-bob', { headers: apiKey(CI_KEY) }),
      403,
      'FORBIDDEN',
    );
    assert.deepEqual(await ids(bearer(BOB), '?projectId=p-bob'), [bobRun]);
  });

  it('lets the owner see, list and cancel its run; its decisions are kept (no Project.Get for a minute)', async () => {
    const gets = projectGets().length;
    for (let i = 0; i < 3; i++) {
      const status = await h().request('GET', `/runs/${aliceRun}`, { headers: bearer(ALICE) });
      assert.equal(status.status, 200, status.text);
    }
    assert.equal(projectGets().length, gets, 'the check function decided ALICE on p-alice before');
    const cancelled = await h().request('POST', `/runs/${aliceRun}/cancel`, { headers: bearer(ALICE) });
    assert.equal(cancelled.status, 202, cancelled.text);
    assert.equal(cancelled.json?.cancelReason, 'user');
    const started = await h().request('POST', '/runs', {
      headers: apiKey(CI_KEY),
      body: { projectId: 'p-alice', notebookId: 'k.ipynb' },
    });
    assert.equal(started.status, 202, started.text);
  });

  it('keeps a direct invocation as it is: the function URLs need no credentials (IAM authorized them)', async () => {
    const started = await h().execute({ projectId: 'p-bob', notebookId: 'direct.ipynb' });
    assert.equal(started.status, 202, started.text);
    const status = await h().check(String(started.json?.runId));
    assert.equal(status.status, 200, status.text);
    const list = await h().request('GET', '/check');
    assert.equal(list.status, 200, list.text);
    assert.ok(
      ((list.json?.runs ?? []) as { runId: string }[]).some((r) => r.runId === aliceRun),
      'direct: every run',
    );
    // A raw invocation of a gateway-shaped event without credentials is refused all the same.
    const raw = invocationAnswer(
      await h().platform.invoke('check', {
        httpMethod: 'GET',
        headers: {},
        queryStringParameters: {},
        requestContext: { requestId: 'r1', apiGateway: { operationContext: {} } },
        body: '',
        isBase64Encoded: false,
        url: '/runs',
        path: '/runs',
      }),
    );
    assert.equal(raw.statusCode, 401);
  });

  it('serves the web console’s page (no data in it) without credentials; its API calls need them', async () => {
    const page = await counted(() => h().request('GET', '/'));
    assert.equal(page.value.status, 200, page.value.text.slice(0, 200));
    assert.match(page.value.headers.get('content-type') ?? '', /^text\/html/);
    assert.deepEqual([page.api, page.ledger], [0, 0]);
    assertError(await h().request('GET', '/runs', { anonymous: true }), 401, 'UNAUTHENTICATED');
  });

  it('never lets a caller credential reach a log line', () => {
    const text = h().logs.allText();
    for (const secret of SECRETS) assert.ok(!text.includes(secret), 'a credential in the logs');
    assert.match(text, /"caller":"iam:[0-9a-f]{12}"/);
    assert.match(text, /"caller":"key:ci"/);
  });
});
