import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deployStage, TriggersNotReady } from '../../deploy/deploy-stage.ts';
import { verifyStage } from '../../deploy/verify-stage.ts';
import { FOLDER, fullDeploy, labels, PROJECT, stageRun, startCloud } from './deploy-harness.ts';
import type { FakeYandexCloud } from './fake-yandex-cloud.ts';

/**
 * The mutating calls of a first deploy of stage prod, in order (reads are left out), with metrics on
 * (the default), a notification channel for the alerts, `--gateway` and `--api-key ci`.
 */
const FIRST_DEPLOY = [
  'iam.createServiceAccount', // functions
  'iam.createServiceAccount', // invoker
  'iam.createServiceAccount', // queues
  'datasphere.updateProjectAccessBindings', // functions account joins the project (before anything can fire)
  'resourceManager.updateAccessBindings', // ydb.editor + monitoring.editor, ymq.reader, ymq.admin
  'ydb.createDatabase',
  'docapi.CreateTable',
  'iam.createAccessKey', // the queues account's key
  'lockbox.createSecret', // ...kept in <prefix>-deploy, with the API key record (the minted key's entry)
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
  'functions.createVersion', // the deploy: execute as the functions account, API_KEYS
  'functions.createVersion', // check, with secrets[], METRICS_FOLDER_ID, API_KEYS
  'functions.createVersion', // cancel, API_KEYS
  'functions.updateAccessBindings', // invoker on execute
  'functions.updateAccessBindings', // invoker on check
  'functions.updateAccessBindings', // invoker on cancel
  'triggers.createTrigger', // jobs-tick
  'triggers.createTrigger', // sweep
  'triggers.createTrigger', // run-requests
  'triggers.createTrigger', // cancel-requests
  'apiGateway.createApiGateway', // from api-gateway/openapi.yaml: credentials on every route but GET /
  // verification (reads only), then, as an anonymous caller through the gateway: GET /runs, GET /
  'monitoring.createDashboard', // after verification: the dashboard, labelled with its definition's hash
  'monitoring.createAlert', // datasphere-runner-run-failed
  'monitoring.createAlert', // datasphere-runner-no-sweep
];

const WEBHOOK_ENV = {
  NOTIFY_WEBHOOK_URL: 'https://hooks.example.test/runs',
  NOTIFY_WEBHOOK_SECRET: 'whsec-test-value-1',
};
const ROTATED = { ...WEBHOOK_ENV, NOTIFY_WEBHOOK_SECRET: 'whsec-test-value-2' };
const CHANNEL = { MONITORING_CHANNEL_ID: 'fbcfakechannel000001' };

describe('npm run deploy against the local fake', () => {
  let fake: FakeYandexCloud;
  before(async () => {
    fake = await startCloud();
  });
  after(() => fake.close());

  it('deploys a stage from nothing in one run, granting project access before any trigger, and verifies it', async () => {
    const run = stageRun(fake, 'prod', {
      env: { ...WEBHOOK_ENV, ...CHANNEL },
      gateway: true,
      apiKeys: { mint: { name: 'ci', projects: [PROJECT] }, revoke: [] },
    });
    let notes: readonly string[] = [];
    try {
      ({ notes } = await fullDeploy(run));
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, 0, true), FIRST_DEPLOY);
    assert.deepEqual(notes, []);
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
    // Metrics: the functions' account may write them, on the folder; the check function knows where.
    assert.deepEqual(
      fake.state.folderBindings.filter((b) => b.subject.id === functionsAccount?.id).map((b) => b.roleId),
      ['ydb.editor', 'monitoring.editor'],
    );
    const latest = (name: string) => {
      const fn = fake.state.functions.find((f) => f.name === name);
      return fake.state.versions.find((v) => v.functionId === fn?.id && v.tags.includes('$latest'))?.body as {
        environment: Record<string, string>;
        secrets: { environmentVariable: string; key: string }[];
        serviceAccountId: string;
      };
    };
    const body = latest('datasphere-runner-prod-check');
    assert.equal(body.serviceAccountId, functionsAccount?.id);
    assert.equal(body.environment.METRICS_FOLDER_ID, FOLDER);
    assert.deepEqual(
      body.secrets.map((s) => [s.environmentVariable, s.key]),
      [['NOTIFY_WEBHOOK_SECRET', 'webhook-secret']],
    );
    assert.ok(
      !JSON.stringify(body.environment).includes(WEBHOOK_ENV.NOTIFY_WEBHOOK_SECRET),
      'the secret is not a plain variable',
    );
    // The minted key: shown once (to the caller of the deploy), its hash line on every function.
    assert.equal(run.minted.length, 1);
    const [minted] = run.minted;
    assert.match(minted?.key ?? '', /^dsr_[A-Za-z0-9_-]{43}$/);
    assert.match(minted?.line ?? '', new RegExp(`^ci:[0-9a-f]{64}:${PROJECT}$`));
    for (const key of ['execute', 'check', 'cancel']) {
      const environment = latest(`datasphere-runner-prod-${key}`).environment;
      assert.equal(environment.API_KEYS, minted?.line, key);
      assert.equal(environment.AUTH_CACHE_SECONDS, '60', key);
    }
    assert.ok(!run.log.join('\n').includes(minted?.key ?? '-'), 'the key is in no log line');
    assert.ok(
      !JSON.stringify(fake.calls.map((c) => c.body)).includes(minted?.key ?? '-'),
      'the key is sent nowhere',
    );
    const deploySecret = fake.state.secrets.find((x) => x.name === 'datasphere-runner-prod-deploy');
    assert.equal(deploySecret?.versions.at(-1)?.entries['api-keys'], JSON.stringify([minted?.line]));
    // The gateway denies an anonymous caller: asked by the verification, answered by the real check handler.
    const [gateway] = fake.state.gateways;
    assert.ok(gateway);
    assert.deepEqual(
      fake.invocations.map((i) => [i.method, i.path, i.status]),
      [
        ['GET', '/runs', 401],
        ['GET', '/', 200],
      ],
    );
    assert.match(fake.invocations[0]?.body ?? '', /"code":"UNAUTHENTICATED"/);
    assert.ok(
      run.log.some((l) => /GET \/runs without credentials is refused \(401 UNAUTHENTICATED\)/.test(l)),
    );
    // Monitoring: the dashboard in the deploy's folder, the two alerts notifying the channel.
    assert.deepEqual(
      fake.state.dashboards.map((d) => [d.folderId, d.name]),
      [[FOLDER, 'datasphere-runner']],
    );
    assert.match(fake.state.dashboards[0]?.labels['definition-sha256'] ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual(
      fake.state.alerts.map((a) => [a.name, (a.body.channels as { channelId: string }[])[0]?.channelId]),
      [
        ['datasphere-runner-run-failed', CHANNEL.MONITORING_CHANNEL_ID],
        ['datasphere-runner-no-sweep', CHANNEL.MONITORING_CHANNEL_ID],
      ],
    );
    const runs = fake.state.queues.find((q) => q.name === 'datasphere-runner-prod-runs');
    assert.deepEqual(JSON.parse(runs?.attributes.RedrivePolicy ?? '{}'), {
      deadLetterTargetArn: `yrn:yc:ymq:ru-central1:${'b1gfakefolder0000000'}:datasphere-runner-prod-dead-letters`,
      maxReceiveCount: 5,
    });
  });

  it('makes no mutating call on a second run with the same inputs (and does not run the plugin)', async () => {
    const from = fake.calls.length;
    const invoked = fake.invocations.length;
    // No --gateway and no key option: the stage keeps its gateway and its keys.
    const run = stageRun(fake, 'prod', { env: { ...WEBHOOK_ENV, ...CHANNEL } });
    try {
      await fullDeploy(run);
    } finally {
      await run.close();
    }
    assert.deepEqual(labels(fake, from, true), []);
    assert.equal(run.plugin.runs.length, 0);
    assert.deepEqual(run.minted, []);
    // What it read of the new pieces: the key record, the gateway (and asked it), the dashboard and alerts.
    const read = labels(fake, from);
    for (const label of [
      'apiGateway.listApiGateways',
      'apiGateway.invoke',
      'monitoring.listDashboards',
      'monitoring.listAlerts',
    ])
      assert.ok(read.includes(label), label);
    assert.deepEqual(
      fake.invocations.slice(invoked).map((i) => [i.path, i.status]),
      [
        ['/runs', 401],
        ['/', 200],
      ],
    );
    assert.ok(run.log.some((l) => /dashboard "datasphere-runner" \(\S+\) is current/.test(l)));
    assert.ok(run.log.some((l) => /API keys on each function: ci/.test(l)));
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
