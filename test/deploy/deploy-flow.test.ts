import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deployStage, TriggersNotReady } from '../../deploy/deploy-stage.ts';
import { verifyStage } from '../../deploy/verify-stage.ts';
import { labels, PROJECT, stageRun, startCloud } from './deploy-harness.ts';
import type { FakeYandexCloud } from './fake-yandex-cloud.ts';

/** The mutating calls of a first deploy of stage prod, in order (reads are left out). */
const FIRST_DEPLOY = [
  'iam.createServiceAccount', // functions
  'iam.createServiceAccount', // invoker
  'iam.createServiceAccount', // queues
  'datasphere.updateProjectAccessBindings', // functions account joins the project (before anything can fire)
  'resourceManager.updateAccessBindings', // ydb.editor, ymq.reader, ymq.admin
  'ydb.createDatabase',
  'docapi.CreateTable',
  'iam.createAccessKey', // the queues account's key
  'lockbox.createSecret', // ...kept in <prefix>-deploy
  'ymq.CreateQueue', // dead-letters
  'ymq.CreateQueue', // runs (RedrivePolicy)
  'ymq.CreateQueue', // cancels (RedrivePolicy)
  'lockbox.createSecret', // <prefix>-runtime: the webhook secret
  'lockbox.updateAccessBindings', // lockbox.payloadViewer for the functions account
  'functions.createFunction', // the plugin: execute
  'functions.createVersion',
  'functions.createFunction', // check
  'functions.createVersion',
  'functions.createFunction', // cancel
  'functions.createVersion',
  'functions.createVersion', // the deploy: execute as the functions account
  'functions.createVersion', // check, with secrets[]
  'functions.createVersion', // cancel
  'functions.updateAccessBindings', // invoker on execute
  'functions.updateAccessBindings', // invoker on check
  'functions.updateAccessBindings', // invoker on cancel
  'triggers.createTrigger', // jobs-tick
  'triggers.createTrigger', // sweep
  'triggers.createTrigger', // run-requests
  'triggers.createTrigger', // cancel-requests
];

const WEBHOOK_ENV = {
  NOTIFY_WEBHOOK_URL: 'https://hooks.example.test/runs',
  NOTIFY_WEBHOOK_SECRET: 'whsec-test-value-1',
};
const ROTATED = { ...WEBHOOK_ENV, NOTIFY_WEBHOOK_SECRET: 'whsec-test-value-2' };

describe('npm run deploy against the local fake', () => {
  let fake: FakeYandexCloud;
  before(async () => {
    fake = await startCloud();
  });
  after(() => fake.close());

  it('deploys a stage from nothing in one run, granting project access before any trigger, and verifies it', async () => {
    const run = stageRun(fake, 'prod', { env: WEBHOOK_ENV });
    try {
      await deployStage(run.ctx, run.plan);
      assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, 0, true), FIRST_DEPLOY);
    assert.equal(run.plugin.runs.length, 1);
    const project = fake.state.projects.find((p) => p.id === PROJECT);
    const functionsAccount = fake.state.serviceAccounts.find(
      (a) => a.name === 'datasphere-runner-prod-functions',
    );
    assert.deepEqual(project?.bindings, [
      {
        roleId: 'datasphere.community-projects.developer',
        subject: { id: functionsAccount?.id, type: 'serviceAccount' },
      },
    ]);
    const check = fake.state.functions.find((f) => f.name === 'datasphere-runner-prod-check');
    const latest = fake.state.versions.find((v) => v.functionId === check?.id && v.tags.includes('$latest'));
    const body = latest?.body as {
      environment: Record<string, string>;
      secrets: { environmentVariable: string; key: string }[];
      serviceAccountId: string;
    };
    assert.equal(body.serviceAccountId, functionsAccount?.id);
    assert.deepEqual(
      body.secrets.map((s) => [s.environmentVariable, s.key]),
      [['NOTIFY_WEBHOOK_SECRET', 'webhook-secret']],
    );
    assert.ok(
      !JSON.stringify(body.environment).includes(WEBHOOK_ENV.NOTIFY_WEBHOOK_SECRET),
      'the secret is not a plain variable',
    );
    const runs = fake.state.queues.find((q) => q.name === 'datasphere-runner-prod-runs');
    assert.deepEqual(JSON.parse(runs?.attributes.RedrivePolicy ?? '{}'), {
      deadLetterTargetArn: `yrn:yc:ymq:ru-central1:${'b1gfakefolder0000000'}:datasphere-runner-prod-dead-letters`,
      maxReceiveCount: 5,
    });
  });

  it('makes no mutating call on a second run with the same inputs (and does not run the plugin)', async () => {
    const from = fake.calls.length;
    const run = stageRun(fake, 'prod', { env: WEBHOOK_ENV });
    try {
      await deployStage(run.ctx, run.plan);
      assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, from, true), []);
    assert.equal(run.plugin.runs.length, 0);
  });

  it('redeploys changed code: the plugin runs once, each function gets a new version, no trigger is touched', async () => {
    const from = fake.calls.length;
    const triggersBefore = structuredClone(fake.state.triggers);
    const run = stageRun(fake, 'prod', { env: WEBHOOK_ENV, code: 'v2' });
    try {
      await deployStage(run.ctx, run.plan);
      assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, from, true), [
      'functions.createVersion', // the plugin: execute, check, cancel
      'functions.createVersion',
      'functions.createVersion',
      'functions.createVersion', // the deploy: the same three as the functions account, with secrets
      'functions.createVersion',
      'functions.createVersion',
    ]);
    assert.deepEqual(fake.state.triggers, triggersBefore);
  });

  it('rotates the webhook secret without the plugin: a new Lockbox version and a new check version only', async () => {
    const from = fake.calls.length;
    const run = stageRun(fake, 'prod', { env: ROTATED, code: 'v2' });
    try {
      await deployStage(run.ctx, run.plan);
      assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, from, true), ['lockbox.addVersion', 'functions.createVersion']);
    assert.equal(run.plugin.runs.length, 0);
    const createVersion = fake.calls.slice(from).find((c) => c.label === 'functions.createVersion');
    assert.ok(JSON.stringify(createVersion?.body).includes('"environmentVariable":"NOTIFY_WEBHOOK_SECRET"'));
    assert.ok(
      !JSON.stringify(fake.calls.slice(from).map((c) => c.body)).includes('whsec-test-value-2') ||
        fake.calls
          .slice(from)
          .filter((c) => JSON.stringify(c.body).includes('whsec-test-value-2'))
          .every((c) => c.label === 'lockbox.addVersion'),
      'the secret value goes to Lockbox only',
    );
  });

  it('repairs a trigger whose creation failed, within the same run', async () => {
    const sweep = fake.state.triggers.find((t) => t.name === 'datasphere-runner-prod-sweep');
    assert.ok(sweep);
    fake.state.triggers.splice(fake.state.triggers.indexOf(sweep), 1); // e.g. deleted by an old plugin run
    fake.failNext('triggers.createTrigger', { operationError: 'Internal error' });
    const from = fake.calls.length;
    const run = stageRun(fake, 'prod', { env: ROTATED, code: 'v2' });
    try {
      await deployStage(run.ctx, run.plan);
      assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, from, true), ['triggers.createTrigger', 'triggers.createTrigger']);
    assert.deepEqual(
      fake.calls
        .slice(from)
        .filter((c) => c.label.startsWith('triggers.'))
        .map((c) => c.label),
      [
        'triggers.listTriggers',
        'triggers.createTrigger',
        'triggers.listTriggers',
        'triggers.createTrigger',
        'triggers.listTriggers',
        'triggers.listTriggers',
      ],
    );
    assert.ok(
      run.log.some((l) => /creating trigger datasphere-runner-prod-sweep failed \(round 1 of 3\)/.test(l)),
    );
  });

  it('fails loudly, naming the trigger, when it cannot be created at all; the next run creates only it', async () => {
    const tick = fake.state.triggers.find((t) => t.name === 'datasphere-runner-prod-jobs-tick');
    assert.ok(tick);
    fake.state.triggers.splice(fake.state.triggers.indexOf(tick), 1);
    fake.failNext('triggers.createTrigger', { status: 429, code: 8, message: 'Quota exceeded: triggers' }, 3);
    const run = stageRun(fake, 'prod', { env: ROTATED, code: 'v2' });
    try {
      await assert.rejects(deployStage(run.ctx, run.plan), (error: Error) => {
        assert.ok(error instanceof TriggersNotReady);
        assert.match(error.message, /trigger datasphere-runner-prod-jobs-tick: missing/);
        assert.match(error.message, /Quota exceeded: triggers/);
        return true;
      });
      assert.ok(
        (await verifyStage(run.ctx, run.plan)).includes('trigger datasphere-runner-prod-jobs-tick: missing'),
      );
    } finally {
      await run.close();
    }
    const from = fake.calls.length;
    const again = stageRun(fake, 'prod', { env: ROTATED, code: 'v2' });
    try {
      await deployStage(again.ctx, again.plan);
    } finally {
      await again.close();
    }
    assert.deepEqual(labels(fake, from, true), ['triggers.createTrigger']);
  });

  it('stops before the triggers when the plugin made no version (it exits 0 after failing)', async () => {
    const from = fake.calls.length;
    const run = stageRun(fake, 'prod', { env: ROTATED, code: 'v3', pluginFailsFor: ['check'] });
    try {
      await assert.rejects(
        deployStage(run.ctx, run.plan),
        /the Serverless plugin made no new version of datasphere-runner-prod-check, datasphere-runner-prod-cancel/,
      );
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, from, true), ['functions.createVersion']); // the plugin's execute version only
    assert.ok(!labels(fake, from).includes('triggers.createTrigger'));
  });
});
