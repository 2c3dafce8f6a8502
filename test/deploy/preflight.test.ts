import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  checkFunctionEnvironment,
  configProblems,
  PENDING_RUN_STORE,
  readDeploySettings,
  referencedSecrets,
} from '../../deploy/preflight.ts';
import { functionSpecs, loadServerlessConfig } from '../../deploy/serverless-config.ts';
import { apiKeysProblems, keyOptionProblems, resolveKeys } from '../../deploy/stage-api-keys.ts';

const config = loadServerlessConfig(join(import.meta.dirname, '..', '..', 'serverless.yaml'));
const specsFor = (env: Record<string, string>) =>
  functionSpecs(config, {
    env: { RUN_STORE: PENDING_RUN_STORE, ALLOWED_PROJECTS: 'bt1fake', ...env },
    options: {},
  });

function allProblems(env: Record<string, string>): string[] {
  const specs = specsFor(env);
  const { settings, problems } = readDeploySettings({ ALLOWED_PROJECTS: 'bt1fake', ...env }, specs);
  return [...problems, ...specs.flatMap((spec) => checkFunctionEnvironment(spec, settings))];
}

describe('the checks before anything changes', () => {
  it('find nothing wrong in a minimal valid environment', () => {
    assert.deepEqual(allProblems({}), []);
  });

  it('report every bad setting at once, not only the first', () => {
    const problems = allProblems({
      LOG_LEVEL: 'loud',
      RUN_TIMEOUT_SECONDS: 'soon',
      CHECK_CONCURRENCY: '0',
      NOTIFY_WEBHOOK_URL: 'not a url',
      NOTIFY_QUEUE_ACCESS_KEY_ID: 'only-one-half',
      DATASPHERE_PROJECT_ROLE: 'editor',
      QUEUE_MAX_RECEIVE_COUNT: '0',
      RUN_STORE: 'file:/tmp/runs',
    });
    const text = problems.join('\n');
    for (const pattern of [
      /NOTIFY_QUEUE_ACCESS_KEY_ID and NOTIFY_QUEUE_SECRET_ACCESS_KEY: set both or neither/,
      /DATASPHERE_PROJECT_ROLE: "editor" must be one of/,
      /QUEUE_MAX_RECEIVE_COUNT: "0"/,
      /RUN_STORE: "file:\/tmp\/runs" must be docapi:/,
      /functions\.execute\.environment: LOG_LEVEL/,
      /functions\.execute\.environment: RUN_TIMEOUT_SECONDS/,
      /functions\.execute\.environment: RUN_STORE: a file: store is refused/,
      /functions\.check\.environment: CHECK_CONCURRENCY/,
      /functions\.check\.environment: NOTIFY_WEBHOOK_URL/,
    ]) {
      assert.match(text, pattern);
    }
  });

  it('require ALLOWED_PROJECTS, and accept * with the projects left to a person', () => {
    const specs = specsFor({});
    assert.match(readDeploySettings({}, specs).problems.join('\n'), /ALLOWED_PROJECTS: required/);
    assert.equal(readDeploySettings({ ALLOWED_PROJECTS: '*' }, specs).settings.projects, '*');
    assert.deepEqual(readDeploySettings({ ALLOWED_PROJECTS: 'a, b,' }, specs).settings.projects, ['a', 'b']);
  });

  it('understand secrets as Lockbox references: a notification queue needs no keys in the environment', () => {
    const env = {
      NOTIFY_QUEUE_URL: 'https://message-queue.api.cloud.yandex.net/b1g/dj6/reports',
      NOTIFY_WEBHOOK_URL: 'https://hooks.example.test/x',
    };
    assert.deepEqual(allProblems(env), []);
    const { settings } = readDeploySettings({ ALLOWED_PROJECTS: 'p', ...env }, specsFor(env));
    assert.deepEqual(referencedSecrets('check', settings), [
      'NOTIFY_WEBHOOK_SECRET',
      'NOTIFY_QUEUE_ACCESS_KEY_ID',
      'NOTIFY_QUEUE_SECRET_ACCESS_KEY',
    ]);
    assert.deepEqual(referencedSecrets('execute', settings), []);
  });

  it('count the secrets toward the 4 KB environment limit', () => {
    const problems = allProblems({
      NOTIFY_WEBHOOK_URL: 'https://hooks.example.test/x',
      NOTIFY_WEBHOOK_SECRET: 'x'.repeat(4000),
    });
    assert.match(
      problems.join('\n'),
      /functions\.check\.environment: \d+ bytes of names and values, over the platform's 4096/,
    );
  });

  it("run the functions' own loader until it has nothing more to say", () => {
    const problems = configProblems({ LOG_LEVEL: 'loud', RUN_STORE: 'nope:', CHECK_INTERVAL_SECONDS: 'x' });
    assert.equal(problems.length, 3, problems.join('\n'));
  });
});

describe('the checks of the new settings: metrics, API keys', () => {
  const HASH_A = 'a'.repeat(64);
  const HASH_B = 'b'.repeat(64);

  it('report every bad API_KEYS entry at once, with the functions’ own rules', () => {
    const problems = allProblems({
      API_KEYS: [
        `ci:${HASH_A}:bt1fake`,
        'broken-entry',
        `ops:${'F'.repeat(64)}:*`,
        `ci:${HASH_B}:bt1fake`,
        `dup:${HASH_A}:*`,
        `bad name:${HASH_B}:*`,
        `noproj:${'c'.repeat(64)}:`,
      ].join(';'),
    });
    assert.deepEqual(problems, [
      'API_KEYS: entry 2 must be <name>:<sha256 hex>:<projects or *>',
      'API_KEYS: entry 3 (ops): the hash must be 64 lower-case hex digits (SHA-256 of the key; npm run api-key prints it)',
      'API_KEYS: entry 4: the name ci is used twice (entry 1)',
      'API_KEYS: entry 5 (dup): the same key as entry 1',
      'API_KEYS: entry 6: name must be 1..40 of A-Z a-z 0-9 _ . -',
      'API_KEYS: entry 7 (noproj): projects must be * or comma-separated project ids',
    ]);
  });

  it('count API_KEYS toward the 4 KB of each function', () => {
    const specs = specsFor({});
    const { settings } = readDeploySettings({ ALLOWED_PROJECTS: 'bt1fake' }, specs);
    const many = Array.from({ length: 50 }, (_, i) => `key${i}:${HASH_A}:bt1fake`).join(';');
    for (const spec of specs) {
      assert.match(
        checkFunctionEnvironment(spec, settings, { API_KEYS: many }).join('\n'),
        /bytes of names and values, over the platform's 4096/,
        spec.key,
      );
      assert.deepEqual(
        checkFunctionEnvironment(spec, settings, { API_KEYS: `ci:${HASH_A}:*` }),
        [],
        spec.key,
      );
    }
  });

  it('METRICS is on or off; METRICS_FOLDER_ID is the deploy’s to set; a channel id has an id’s shape', () => {
    const text = allProblems({
      METRICS: 'maybe',
      METRICS_FOLDER_ID: 'b1gother',
      MONITORING_CHANNEL_ID: 'not a channel',
    }).join('\n');
    assert.match(text, /METRICS: "maybe" must be on or off/);
    assert.match(text, /METRICS_FOLDER_ID: the deploy sets it to its own folder/);
    assert.match(text, /MONITORING_CHANNEL_ID: "not a channel" is not a notification channel id/);
    const specs = specsFor({});
    assert.equal(readDeploySettings({ ALLOWED_PROJECTS: 'p' }, specs).settings.metrics, true);
    assert.equal(
      readDeploySettings({ ALLOWED_PROJECTS: 'p', METRICS: 'OFF' }, specs).settings.metrics,
      false,
    );
  });

  it('refuse key options that cannot work, all at once', () => {
    assert.deepEqual(
      keyOptionProblems(
        {
          given: [`ci:${HASH_A}:*`],
          mint: { name: 'x y', projects: ['bt1other', 'bad id!'] },
          revoke: ['ok'],
        },
        ['bt1fake'],
      ),
      [
        '--api-key/--revoke-api-key with API_KEYS set: the stage then has exactly the keys API_KEYS lists. Mint with npm run api-key and add the line to API_KEYS, or unset API_KEYS to let the deploy keep the list',
        '--api-key "x y": a name is 1..40 of A-Z a-z 0-9 _ . -',
        '--projects: bt1other is not in ALLOWED_PROJECTS (a key never widens it): add it there first',
        '--projects: "bad id!" is not a project id',
      ],
    );
    assert.deepEqual(keyOptionProblems({ mint: { name: 'ci', projects: '*' }, revoke: [] }, ['bt1fake']), []);
  });

  it('resolve the stage’s list: the given one replaces the record; revoke, then mint (a rotation)', () => {
    const stored = [`ci:${HASH_A}:bt1fake`, `ops:${HASH_B}:*`];
    const fixed = () => 'dsr_fixed-key-for-the-test-0000000000000000000';
    const rotated = resolveKeys(stored, { mint: { name: 'ci', projects: '*' }, revoke: ['ci'] }, fixed);
    assert.deepEqual(rotated.problems, []);
    assert.equal(rotated.minted?.key, fixed());
    assert.deepEqual(rotated.lines, [stored[1], rotated.minted?.line]);
    assert.match(rotated.minted?.line ?? '', /^ci:[0-9a-f]{64}:\*$/);
    assert.deepEqual(resolveKeys(stored, { given: [`x:${HASH_A}:*`], revoke: [] }).lines, [`x:${HASH_A}:*`]);
    assert.deepEqual(resolveKeys(undefined, { revoke: [] }).lines, []);
    const taken = resolveKeys(stored, { mint: { name: 'ops', projects: '*' }, revoke: ['nobody'] }, fixed);
    assert.equal(taken.minted, undefined);
    assert.deepEqual(taken.problems, [
      '--revoke-api-key nobody: the stage has no key of that name',
      '--api-key ops: the stage already has a key of that name (add --revoke-api-key ops to replace it)',
    ]);
    assert.deepEqual(
      apiKeysProblems(rotated.lines.join(';')),
      [],
      'a minted line is what the functions accept',
    );
  });
});
