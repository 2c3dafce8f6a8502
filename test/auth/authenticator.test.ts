import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../shared/api/api-error.ts';
import { apiKeyEntryLine, parseApiKeys } from '../../shared/auth/api-keys.ts';
import { type AuthenticatorOptions, createAuthenticator } from '../../shared/auth/authenticator.ts';
import { tokenHash } from '../../shared/auth/token-access.ts';
import { isRunnerError } from '../../shared/errors.ts';

// Obviously fake credentials.
const ALICE = 't1.fake-alice-token-0000000000';
const MALLORY = 't1.fake-expired-token-000000000';
const CI_KEY = 'dsr_fake-ci-key-00000000000000000000000';
const OPS_KEY = 'dsr_fake-ops-key-0000000000000000000000';

const apiError = (httpStatus: number, rpcCode: number, retryable = false) =>
  new ApiError(
    'API_ERROR',
    {
      api: 'DataSphere',
      rpc: 'Project.Get',
      method: 'GET',
      path: '/p',
      httpStatus,
      rpcCode,
      retryable,
      attempts: 1,
    },
    `HTTP ${httpStatus}`,
  );

/** A Project.Get stand-in: ALICE reads p-alice; MALLORY's token is expired; a counter of calls. */
function setup(overrides: Partial<AuthenticatorOptions> = {}) {
  const calls: { token: string; projectId: string }[] = [];
  const learned: string[] = [];
  let now = 0;
  let outage = false;
  const options: AuthenticatorOptions = {
    apiKeys: parseApiKeys(
      `${apiKeyEntryLine('ci', CI_KEY, ['p-alice'])};${apiKeyEntryLine('ops', OPS_KEY, '*')}`,
    ),
    allowedProjects: new Set(['p-alice', 'p-bob', 'p-gone']),
    readProject: async (token, projectId) => {
      calls.push({ token, projectId });
      if (outage) throw apiError(503, 14, true);
      if (token === MALLORY) throw apiError(401, 16);
      if (projectId === 'p-gone') throw apiError(404, 5);
      if (token !== ALICE || projectId !== 'p-alice') throw apiError(403, 7);
    },
    learn: (secret) => {
      learned.push(secret);
    },
    now: () => now,
    ...overrides,
  };
  const auth = createAuthenticator(options);
  const headers =
    (values: Record<string, string>) =>
    (name: string): string | undefined =>
      Object.entries(values).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
  return {
    auth,
    calls,
    learned,
    headers,
    advance: (ms: number) => {
      now += ms;
    },
    setOutage: (value: boolean) => {
      outage = value;
    },
  };
}

const code = (expected: string, field?: string) => (error: unknown) =>
  isRunnerError(error) &&
  error.code === expected &&
  (field === undefined || (error.details as { field?: string } | undefined)?.field === field);

describe('authenticating a gateway call (shared/auth)', () => {
  it('refuses a call without credentials, or with a malformed one, without any call', () => {
    const { auth, calls, headers } = setup();
    const refused: [Record<string, string>, RegExp, string | undefined][] = [
      [
        {},
        /credentials required: an IAM token in Authorization \(scheme "Bearer"\), or an API key/,
        undefined,
      ],
      [{ Authorization: '' }, /credentials required/, undefined],
      [{ Authorization: 'Basic dXNlcjpwYXNz' }, /Authorization: use the "Bearer" scheme/, 'Authorization'],
      [{ Authorization: 'Bearer' }, /Authorization: use the "Bearer" scheme/, 'Authorization'],
      [{ Authorization: 'Bearer short' }, /not an IAM token/, 'Authorization'],
      [{ 'X-Api-Key': 'short' }, /X-Api-Key: is not an API key/, 'X-Api-Key'],
      [{ 'x-api-key': `${CI_KEY} extra` }, /X-Api-Key: is not an API key/, 'X-Api-Key'],
    ];
    for (const [sent, message, field] of refused) {
      assert.throws(
        () => auth.authenticate(headers(sent)),
        (error: unknown) => code('UNAUTHENTICATED', field)(error) && message.test((error as Error).message),
        JSON.stringify(sent),
      );
    }
    assert.equal(calls.length, 0);
  });

  it('refuses an unknown API key without any call; a known one acts on its projects within ALLOWED_PROJECTS', async () => {
    const { auth, calls, headers, learned } = setup();
    assert.throws(
      () => auth.authenticate(headers({ 'X-Api-Key': 'dsr_fake-unknown-key-000000000000000000' })),
      (error: unknown) =>
        code('UNAUTHENTICATED', 'X-Api-Key')(error) && /not a known API key/.test(String(error)),
    );
    const ci = auth.authenticate(headers({ 'X-Api-Key': CI_KEY }));
    assert.equal(ci.caller, 'key:ci');
    assert.equal(await ci.mayAct('p-alice'), true);
    assert.equal(await ci.mayAct('p-bob'), false);
    assert.equal(ci.known('p-bob'), false);
    const ops = auth.authenticate(headers({ 'x-api-key': OPS_KEY }));
    assert.equal(await ops.mayAct('p-bob'), true);
    assert.equal(await ops.mayAct('p-elsewhere'), false, 'a * key never widens ALLOWED_PROJECTS');
    assert.equal(calls.length, 0);
    assert.deepEqual(learned, ['dsr_fake-unknown-key-000000000000000000', CI_KEY, OPS_KEY]);
  });

  it('uses the API key when a key and a token are both sent', async () => {
    const { auth, calls, headers } = setup();
    const access = auth.authenticate(headers({ Authorization: `Bearer ${ALICE}`, 'X-Api-Key': OPS_KEY }));
    assert.equal(access.caller, 'key:ops');
    assert.equal(await access.mayAct('p-bob'), true);
    assert.equal(calls.length, 0);
    assert.throws(
      () =>
        auth.authenticate(
          headers({
            Authorization: `Bearer ${ALICE}`,
            'X-Api-Key': 'dsr_fake-wrong-key-00000000000000000000',
          }),
        ),
      code('UNAUTHENTICATED', 'X-Api-Key'),
    );
  });

  it('lets a token act on a project only if Project.Get with THAT token succeeds, one call per project per minute', async () => {
    const { auth, calls, headers, advance, learned } = setup();
    const access = auth.authenticate(headers({ Authorization: `Bearer ${ALICE}` }));
    assert.deepEqual(learned, [ALICE], 'the redactor knows the token before anything else happens');
    assert.equal(access.caller, `iam:${tokenHash(ALICE).slice(0, 12)}`);
    assert.ok(!access.caller.includes(ALICE));
    assert.equal(access.known('p-alice'), undefined);
    assert.equal(await access.mayAct('p-alice'), true);
    assert.equal(await access.mayAct('p-bob'), false);
    assert.equal(
      await access.mayAct('p-gone'),
      false,
      'a project DataSphere says is not found is not readable',
    );
    assert.equal(access.known('p-alice'), true);
    assert.equal(access.known('p-bob'), false);
    // Another invocation of the same instance with the same token: the decisions are kept.
    const again = auth.authenticate(headers({ Authorization: `bearer ${ALICE}` }));
    assert.equal(await again.mayAct('p-alice'), true);
    assert.equal(await again.mayAct('p-bob'), false);
    assert.deepEqual(
      calls.map((c) => [c.token === ALICE, c.projectId]),
      [
        [true, 'p-alice'],
        [true, 'p-bob'],
        [true, 'p-gone'],
      ],
    );
    advance(60_000);
    assert.equal(await again.mayAct('p-alice'), true);
    assert.equal(calls.length, 4, 'asked again once the decision is a minute old');
    // Outside ALLOWED_PROJECTS: refused without asking.
    assert.equal(await again.mayAct('p-elsewhere'), false);
    assert.equal(again.known('p-elsewhere'), false);
    assert.equal(calls.length, 4);
  });

  it('keys its cache by a hash of the token, never the token', async () => {
    const { auth, headers } = setup();
    const access = auth.authenticate(headers({ Authorization: `Bearer ${ALICE}` }));
    await access.mayAct('p-alice');
    assert.equal(auth.cache.get(`${tokenHash(ALICE)}\u0000p-alice`), 'readable');
    assert.equal(auth.cache.get(`${ALICE}\u0000p-alice`), undefined);
  });

  it('refuses an invalid or expired token with 401, then for every project without another call', async () => {
    const { auth, calls, headers } = setup();
    const access = auth.authenticate(headers({ Authorization: `Bearer ${MALLORY}` }));
    await assert.rejects(
      access.mayAct('p-alice'),
      (error: unknown) =>
        code('UNAUTHENTICATED', 'Authorization')(error) &&
        !String((error as Error).message).includes(MALLORY),
    );
    await assert.rejects(access.mayAct('p-bob'), code('UNAUTHENTICATED'));
    const later = auth.authenticate(headers({ Authorization: `Bearer ${MALLORY}` }));
    await assert.rejects(later.mayAct('p-alice'), code('UNAUTHENTICATED'));
    assert.equal(later.known('p-alice'), undefined);
    assert.equal(calls.length, 1);
  });

  it('proves a token good before a status or list call reads anything: one probe, then none', async () => {
    const { auth, calls, headers } = setup();
    const access = auth.authenticate(headers({ Authorization: `Bearer ${ALICE}` }));
    await access.verify();
    assert.deepEqual(
      calls.map((c) => c.projectId),
      ['p-alice'],
      'the first ALLOWED_PROJECTS entry, sorted',
    );
    await access.verify();
    assert.equal(await access.mayAct('p-alice'), true, 'and its decision serves');
    assert.equal(calls.length, 1);
    const expired = auth.authenticate(headers({ Authorization: `Bearer ${MALLORY}` }));
    await assert.rejects(expired.verify(), code('UNAUTHENTICATED', 'Authorization'));
    await assert.rejects(expired.verify(), code('UNAUTHENTICATED'));
    assert.equal(calls.length, 2);
    // With ALLOWED_PROJECTS=* a project id no project has: any answer but 401 shows the token is good.
    const open = setup({ allowedProjects: '*' });
    await open.auth.authenticate(open.headers({ Authorization: `Bearer ${ALICE}` })).verify();
    assert.deepEqual(
      open.calls.map((c) => c.projectId),
      ['datasphere-runner-token-check'],
    );
    const keyed = setup();
    await keyed.auth.authenticate(keyed.headers({ 'X-Api-Key': CI_KEY })).verify();
    assert.equal(keyed.calls.length, 0);
  });

  it('passes a transient failure on and keeps no decision from it', async () => {
    const { auth, calls, headers, setOutage } = setup();
    const access = auth.authenticate(headers({ Authorization: `Bearer ${ALICE}` }));
    setOutage(true);
    await assert.rejects(
      access.mayAct('p-alice'),
      (error: unknown) => isRunnerError(error) && error.code === 'API_ERROR',
    );
    assert.equal(access.known('p-alice'), undefined);
    setOutage(false);
    assert.equal(await access.mayAct('p-alice'), true);
    assert.equal(calls.length, 2);
  });

  it('shares one Project.Get among concurrent checks of one project', async () => {
    const { auth, calls, headers } = setup();
    const access = auth.authenticate(headers({ Authorization: `Bearer ${ALICE}` }));
    const answers = await Promise.all(Array.from({ length: 20 }, () => access.mayAct('p-alice')));
    assert.ok(answers.every(Boolean));
    assert.equal(calls.length, 1);
  });

  it('with AUTH_CACHE_SECONDS=0 asks DataSphere every time', async () => {
    const { auth, calls, headers } = setup({ cacheSeconds: 0 });
    const access = auth.authenticate(headers({ Authorization: `Bearer ${ALICE}` }));
    await access.mayAct('p-alice');
    await access.mayAct('p-alice');
    assert.equal(calls.length, 2);
  });
});
