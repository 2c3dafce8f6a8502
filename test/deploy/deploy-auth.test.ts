/**
 * The authenticated gateway as the deploy ships it, against the local fake: the fake's gateway runs
 * the real check and cancel handlers with the environment the deploy gave their versions, so what
 * a caller gets below is what the deployed code decides with the deployed API_KEYS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeployInputError, deployStage } from '../../deploy/deploy-stage.ts';
import { verifyStage } from '../../deploy/verify-stage.ts';
import {
  callGateway,
  fullDeploy,
  labels,
  PROJECT,
  type StageRun,
  stageRun,
  startCloud,
} from './deploy-harness.ts';
import type { FakeYandexCloud } from './fake-yandex-cloud.ts';
import { makeZip } from './zip-fixture.ts';

const RUN_ID = 'run0000000000000000000001';

/** Calls to the ledger or DataSphere made by the functions behind the gateway since `from`. */
function backendCalls(fake: FakeYandexCloud, from: number): string[] {
  return labels(fake, from).filter(
    (label) => /^docapi\.(GetItem|Query|PutItem|UpdateItem)$/.test(label) || label.startsWith('datasphere.'),
  );
}

async function deployed(run: StageRun): Promise<void> {
  try {
    await fullDeploy(run);
  } finally {
    await run.close();
  }
}

/** The API_KEYS of each function's `$latest` version. */
function deployedKeys(fake: FakeYandexCloud): (string | undefined)[] {
  return ['execute', 'check', 'cancel'].map((key) => {
    const fn = fake.state.functions.find((f) => f.name === `datasphere-runner-prod-${key}`);
    const version = fake.state.versions.find((v) => v.functionId === fn?.id && v.tags.includes('$latest'));
    return (version?.body.environment as Record<string, string> | undefined)?.API_KEYS;
  });
}

describe('the gateway and API keys, as deployed', () => {
  let fake: FakeYandexCloud;
  let domain: string;
  let ciKey: string;
  before(async () => {
    fake = await startCloud();
    const run = stageRun(fake, 'prod', {
      gateway: true,
      apiKeys: { mint: { name: 'ci', projects: [PROJECT] }, revoke: [] },
    });
    await deployed(run);
    domain = fake.state.gateways[0]?.domain ?? '';
    ciKey = run.minted[0]?.key ?? '';
    assert.ok(domain !== '' && ciKey !== '');
  });
  after(() => fake.close());

  it('refuses a caller with no key or a wrong key before any ledger read, and lets the minted key in', async () => {
    let from = fake.calls.length;
    const anonymous = await callGateway(fake, domain, `/runs/${RUN_ID}`);
    assert.equal(anonymous.status, 401, anonymous.body);
    assert.match(String(anonymous.headers['www-authenticate']), /ApiKey realm="datasphere-runner"/);
    const wrong = await callGateway(fake, domain, `/runs/${RUN_ID}`, {
      'X-Api-Key': `dsr_${'A'.repeat(43)}`,
    });
    assert.equal(wrong.status, 401, wrong.body);
    // The other two functions behind the gateway refuse too: a start (execute) and a cancel (cancel).
    const start = await callGateway(fake, domain, '/runs', {}, { projectId: PROJECT, notebookId: 'nb1' });
    assert.equal(start.status, 401, start.body);
    const cancel = await callGateway(fake, domain, `/runs/${RUN_ID}/cancel`, {}, {});
    assert.equal(cancel.status, 401, cancel.body);
    assert.deepEqual(
      fake.invocations.slice(-3).map((i) => fake.state.functions.find((f) => f.id === i.functionId)?.name),
      ['datasphere-runner-prod-check', 'datasphere-runner-prod-execute', 'datasphere-runner-prod-cancel'],
    );
    assert.deepEqual(backendCalls(fake, from), [], 'no ledger read, no DataSphere call');

    from = fake.calls.length;
    const good = await callGateway(fake, domain, `/runs/${RUN_ID}`, { 'X-Api-Key': ciKey });
    assert.equal(good.status, 404, good.body);
    assert.match(good.body, /"code":"RUN_NOT_FOUND"/);
    assert.deepEqual(backendCalls(fake, from), ['docapi.GetItem'], 'authenticated: the run was looked up');
  });

  it('refuses a taken or an unknown key name before anything changes', async () => {
    for (const apiKeys of [
      { mint: { name: 'ci', projects: [PROJECT] }, revoke: [] },
      { revoke: ['nobody'] },
    ]) {
      const from = fake.calls.length;
      const run = stageRun(fake, 'prod', { apiKeys });
      try {
        await assert.rejects(deployStage(run.ctx, run.plan), (error: Error) => {
          assert.ok(error instanceof DeployInputError);
          assert.match(error.message, /already has a key of that name|has no key of that name/);
          return true;
        });
      } finally {
        await run.close();
      }
      assert.deepEqual(labels(fake, from, true), []);
      assert.deepEqual(run.minted, [], 'no key is shown when none is stored');
    }
  });

  it('rotates a key (revoke and mint one name): the record and each function change, the plugin does not run', async () => {
    const from = fake.calls.length;
    const run = stageRun(fake, 'prod', {
      apiKeys: { mint: { name: 'ci', projects: '*' }, revoke: ['ci'] },
    });
    await deployed(run);
    assert.deepEqual(labels(fake, from, true), [
      'lockbox.addVersion', // the record in <prefix>-deploy
      'functions.createVersion', // execute, check, cancel with the new API_KEYS (no upload)
      'functions.createVersion',
      'functions.createVersion',
    ]);
    assert.equal(run.plugin.runs.length, 0);
    const newKey = run.minted[0]?.key ?? '';
    assert.ok(newKey !== '' && newKey !== ciKey);
    assert.deepEqual(new Set(deployedKeys(fake)), new Set([run.minted[0]?.line]));
    assert.equal((await callGateway(fake, domain, `/runs/${RUN_ID}`, { 'X-Api-Key': ciKey })).status, 401);
    assert.equal((await callGateway(fake, domain, `/runs/${RUN_ID}`, { 'X-Api-Key': newKey })).status, 404);
    ciKey = newKey;
  });

  it('API_KEYS in the environment replaces the list; a later deploy without it keeps that list', async () => {
    const line = `ops:${'ab'.repeat(32)}:*`;
    let from = fake.calls.length;
    await deployed(stageRun(fake, 'prod', { env: { API_KEYS: line } }));
    assert.deepEqual(labels(fake, from, true), [
      'lockbox.addVersion',
      'functions.createVersion',
      'functions.createVersion',
      'functions.createVersion',
    ]);
    assert.deepEqual(new Set(deployedKeys(fake)), new Set([line]));
    from = fake.calls.length;
    const run = stageRun(fake, 'prod');
    await deployed(run);
    assert.deepEqual(labels(fake, from, true), []);
    assert.ok(run.log.some((l) => l === 'API keys on each function: ops'));
    assert.equal((await callGateway(fake, domain, `/runs/${RUN_ID}`, { 'X-Api-Key': ciKey })).status, 401);
  });

  it('verification names a function whose API_KEYS is not the stage list', async () => {
    const cancel = fake.state.functions.find((f) => f.name === 'datasphere-runner-prod-cancel');
    const version = fake.state.versions.find(
      (v) => v.functionId === cancel?.id && v.tags.includes('$latest'),
    );
    assert.ok(version);
    const environment = version.body.environment as Record<string, string>;
    const saved = environment.API_KEYS;
    delete environment.API_KEYS;
    const run = stageRun(fake, 'prod');
    try {
      const problems = await verifyStage(run.ctx, run.plan);
      assert.deepEqual(
        problems.map((p) => p.replace(/\(version \w+\)/, '(version …)')),
        ['function datasphere-runner-prod-cancel (version …): environment lacks API_KEYS'],
      );
    } finally {
      environment.API_KEYS = saved ?? '';
      await run.close();
    }
  });

  it('verification fails when the gateway answers an anonymous GET /runs', async () => {
    const check = fake.state.functions.find((f) => f.name === 'datasphere-runner-prod-check');
    const version = fake.state.versions.find((v) => v.functionId === check?.id && v.tags.includes('$latest'));
    assert.ok(version);
    const code = version.code;
    version.code = makeZip({
      'index.js': `exports.handler = async () => ({ statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: '{"runs":[]}' });`,
    });
    const run = stageRun(fake, 'prod');
    try {
      const problems = await verifyStage(run.ctx, run.plan);
      assert.ok(
        problems.includes(
          'API gateway datasphere-runner-prod: GET /runs answers 200 to a caller without credentials: the API is open to anyone',
        ),
        problems.join('\n'),
      );
      assert.ok(
        problems.some((p) => /GET \/ answered 200 application\/json, not the console's page/.test(p)),
      );
    } finally {
      version.code = code;
      await run.close();
    }
  });

  it('revoking the last key takes API_KEYS off the functions; the gateway then takes IAM tokens only', async () => {
    const from = fake.calls.length;
    const run = stageRun(fake, 'prod', { apiKeys: { revoke: ['ops'] } });
    await deployed(run);
    assert.deepEqual(labels(fake, from, true), [
      'lockbox.addVersion',
      'functions.createVersion',
      'functions.createVersion',
      'functions.createVersion',
    ]);
    assert.deepEqual(deployedKeys(fake), [undefined, undefined, undefined]);
    assert.ok(
      run.log.some((l) => /note: the stage has no API keys: the gateway accepts IAM tokens only/.test(l)),
    );
    const deploySecret = fake.state.secrets.find((x) => x.name === 'datasphere-runner-prod-deploy');
    assert.equal(deploySecret?.versions.at(-1)?.entries['api-keys'], '[]');
  });
});
