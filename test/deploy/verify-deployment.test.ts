import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { API, fetchObservedDeployment, type GetJson, listAll } from '../../deploy/cloud-api.ts';
import type { ExpectedDeployment, ObservedDeployment } from '../../deploy/deployment-model.ts';
import { expectedDeployment, loadServerlessConfig } from '../../deploy/serverless-config.ts';
import { verifyDeployment } from '../../deploy/verify-deployment.ts';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(import.meta.dirname, 'fixtures');
const FOLDER = 'b1gfakefolder00000000';
const ENV = {
  RUN_QUEUE_ARN: `yrn:yc:ymq:ru-central1:${FOLDER}:datasphere-runner-runs`,
  CANCEL_QUEUE_ARN: `yrn:yc:ymq:ru-central1:${FOLDER}:datasphere-runner-cancels`,
};
/** The fixtures' functions and triggers were made at 2025-06-01T12:00:30Z. */
const DEPLOY_STARTED = '2025-06-01T11:58:30.000Z';

function expected(notBefore?: string): ExpectedDeployment {
  const config = loadServerlessConfig(join(root, 'serverless.yaml'));
  return expectedDeployment(config, { env: ENV, options: { stage: 'prod' } }, notBefore);
}

/** Replays the recorded API answers of `fixtures/<name>/`, keyed by what the URL asks for. */
function recorded(name: string): { getJson: GetJson; urls: string[] } {
  const urls: string[] = [];
  const read = (file: string): unknown => JSON.parse(readFileSync(join(fixtures, name, file), 'utf8'));
  const getJson: GetJson = async (raw) => {
    urls.push(raw);
    const url = new URL(raw);
    const base = `${url.origin}${url.pathname}`;
    if (base === `${API.functions}/functions` && url.searchParams.get('folderId') === FOLDER) {
      return read('functions.json');
    }
    if (base === `${API.functions}/versions` && url.searchParams.has('functionId')) {
      return read(`versions-${url.searchParams.get('functionId')}.json`);
    }
    if (base === `${API.triggers}/triggers` && url.searchParams.get('folderId') === FOLDER) {
      return read('triggers.json');
    }
    if (base === `${API.iam}/serviceAccounts` && url.searchParams.get('folderId') === FOLDER) {
      return read('service-accounts.json');
    }
    throw new Error(`no recorded answer for GET ${raw}`);
  };
  return { getJson, urls };
}

async function observe(name: string): Promise<ObservedDeployment> {
  return fetchObservedDeployment(
    recorded(name).getJson,
    FOLDER,
    expected().functions.map((f) => f.name),
  );
}

describe('verifying a deployment against recorded API answers', () => {
  it('finds no problem in a full, healthy deployment', async () => {
    assert.deepEqual(verifyDeployment(expected(DEPLOY_STARTED), await observe('healthy')), []);
  });

  it('reads only the versions of our functions, from the documented endpoints', async () => {
    const { getJson, urls } = recorded('healthy');
    await fetchObservedDeployment(getJson, FOLDER, ['datasphere-runner-prod-execute']);
    assert.deepEqual(urls, [
      `${API.functions}/functions?folderId=${FOLDER}`,
      `${API.functions}/versions?functionId=d4efakeexecute000001&pageSize=1000`,
      `${API.triggers}/triggers?folderId=${FOLDER}`,
      `${API.iam}/serviceAccounts?folderId=${FOLDER}&pageSize=1000`,
    ]);
  });

  it('lists a missing trigger, a function without a version and a wrong runtime by name', async () => {
    const problems = verifyDeployment(expected(DEPLOY_STARTED), await observe('broken'));
    assert.deepEqual(problems, [
      'function datasphere-runner-prod-execute (version d4efakeverexelatest0): runtime nodejs18, expected nodejs22',
      'function datasphere-runner-prod-cancel: has no version',
      'trigger datasphere-runner-prod-check-cron: missing',
    ]);
  });

  it('notices a deploy that created nothing new (the plugin exits 0 after a failure)', async () => {
    const problems = verifyDeployment(expected('2025-06-02T00:00:00.000Z'), await observe('healthy'));
    assert.equal(problems.length, 7, problems.join('\n'));
    assert.ok(problems.every((p) => /before the deploy started/.test(p)));
    assert.match(
      problems[0] ?? '',
      /^function datasphere-runner-prod-execute .*this deploy did not create a new version$/,
    );
    assert.match(
      problems[6] ?? '',
      /^trigger datasphere-runner-prod-cancel-ymq: .*this deploy did not recreate it$/,
    );
  });

  it('names missing functions, triggers and service accounts in an empty folder', () => {
    const empty: ObservedDeployment = { functions: [], versions: {}, triggers: [], serviceAccounts: [] };
    assert.deepEqual(verifyDeployment(expected(), empty), [
      'service account datasphere-runner-functions: missing',
      'service account datasphere-runner-invoker: missing',
      'function datasphere-runner-prod-execute: missing',
      'function datasphere-runner-prod-check: missing',
      'function datasphere-runner-prod-cancel: missing',
      'trigger datasphere-runner-prod-execute-cron: missing',
      'trigger datasphere-runner-prod-execute-ymq: missing',
      'trigger datasphere-runner-prod-check-cron: missing',
      'trigger datasphere-runner-prod-cancel-ymq: missing',
    ]);
  });

  it('compares memory, timeout, entry point, environment names, accounts, queue and cron', async () => {
    const healthy = await observe('healthy');
    const executeId = 'd4efakeexecute000001';
    const [latest, ...older] = healthy.versions[executeId] ?? [];
    assert.ok(latest);
    const { RUN_STORE: _dropped, ...environment } = latest.environment ?? {};
    const changed: ObservedDeployment = {
      ...healthy,
      versions: {
        ...healthy.versions,
        [executeId]: [
          {
            ...latest,
            entrypoint: 'dist/execute/index.handler',
            resources: { memory: String(256 * 1024 * 1024) },
            executionTimeout: '30s',
            environment,
            serviceAccountId: 'ajefakesomeoneelse03',
            status: 'CREATING',
          },
          ...older,
        ],
      },
      triggers: healthy.triggers.map((t) => {
        if (t.name === 'datasphere-runner-prod-check-cron') {
          return {
            ...t,
            status: 'PAUSED',
            rule: { timer: { ...t.rule?.timer, cronExpression: '0 * ? * * *' } },
          };
        }
        if (t.name === 'datasphere-runner-prod-cancel-ymq' && t.rule?.messageQueue) {
          const queue = t.rule.messageQueue;
          return {
            ...t,
            rule: {
              messageQueue: {
                ...queue,
                queueId: 'yrn:yc:ymq:ru-central1:b1gfakefolder00000000:other',
                invokeFunction: { ...queue.invokeFunction, functionId: executeId },
              },
            },
          };
        }
        return t;
      }),
    };
    const problems = verifyDeployment(expected(), changed);
    const at = 'function datasphere-runner-prod-execute (version d4efakeverexelatest0)';
    assert.deepEqual(problems, [
      `${at}: status CREATING, expected ACTIVE`,
      `${at}: entrypoint dist/execute/index.handler, expected index.handler`,
      `${at}: memory 256 MB, expected 128 MB`,
      `${at}: timeout 30s, expected 60s`,
      `${at}: environment lacks RUN_STORE`,
      `${at}: runs as ajefakesomeoneelse03, expected datasphere-runner-functions (ajefakefunctions0001)`,
      'trigger datasphere-runner-prod-check-cron: status PAUSED, expected ACTIVE',
      'trigger datasphere-runner-prod-check-cron: cron 0 * ? * * *, expected * * ? * * *',
      `trigger datasphere-runner-prod-cancel-ymq: reads queue yrn:yc:ymq:ru-central1:b1gfakefolder00000000:other, expected ${ENV.CANCEL_QUEUE_ARN}`,
      `trigger datasphere-runner-prod-cancel-ymq: invokes ${executeId}, expected datasphere-runner-prod-cancel (d4efakecancel0000003)`,
    ]);
  });

  it('never prints an environment value, only names', async () => {
    const healthy = await observe('healthy');
    const secret = 'webhook-secret-value-never-printed';
    const versions = Object.fromEntries(
      Object.entries(healthy.versions).map(([id, list]) => [
        id,
        list.map((v) => ({ ...v, runtime: 'nodejs18', environment: { NOTIFY_WEBHOOK_SECRET: secret } })),
      ]),
    );
    const problems = verifyDeployment(expected(), { ...healthy, versions });
    assert.ok(problems.length > 0);
    assert.ok(problems.every((p) => !p.includes(secret)));
  });
});

describe('listing a paginated API', () => {
  it('follows nextPageToken until it is empty', async () => {
    const pages: Record<string, unknown> = {
      '': { triggers: [{ id: 'a' }, { id: 'b' }], nextPageToken: 'p2' },
      p2: { triggers: [{ id: 'c' }], nextPageToken: 'p3' },
      p3: { nextPageToken: '' },
    };
    const seen: string[] = [];
    const items = await listAll<{ id: string }>(
      async (url) => {
        seen.push(url);
        return pages[new URL(url).searchParams.get('pageToken') ?? ''];
      },
      `${API.triggers}/triggers?folderId=${FOLDER}`,
      'triggers',
    );
    assert.deepEqual(
      items.map((i) => i.id),
      ['a', 'b', 'c'],
    );
    assert.equal(seen[1], `${API.triggers}/triggers?folderId=${FOLDER}&pageToken=p2`);
  });

  it('refuses an answer whose list is not a list', async () => {
    await assert.rejects(
      listAll(async () => ({ functions: 'nope' }), `${API.functions}/functions?folderId=x`, 'functions'),
      /"functions" is not a list/,
    );
  });
});
