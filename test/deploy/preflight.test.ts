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
