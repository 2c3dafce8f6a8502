import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { deployStage } from '../../deploy/deploy-stage.ts';
import { ProjectAccessDenied } from '../../deploy/ensure-project-access.ts';
import { removeStage } from '../../deploy/remove-stage.ts';
import { verifyStage } from '../../deploy/verify-stage.ts';
import { labels, PROJECT, stageRun, startCloud, TOKEN } from './deploy-harness.ts';
import type { FakeState, FakeYandexCloud, RecordedCall } from './fake-yandex-cloud.ts';

async function deploy(
  fake: FakeYandexCloud,
  stage: string,
  options: Parameters<typeof stageRun>[2] = {},
): Promise<void> {
  const run = stageRun(fake, stage, options);
  try {
    await deployStage(run.ctx, run.plan);
    assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
  } finally {
    await run.close();
  }
}

/** Everything in the fake that belongs to `stage` (by name, or by being attached to such a thing). */
function stageSnapshot(state: FakeState, stage: string): unknown {
  const mine = (name: string) =>
    name.startsWith(`datasphere-runner-${stage}-`) || name === `datasphere-runner-${stage}`;
  const accounts = state.serviceAccounts.filter((a) => mine(a.name));
  const ids = new Set(accounts.map((a) => a.id));
  const functions = state.functions.filter((f) => mine(f.name));
  return structuredClone({
    accounts,
    folderBindings: state.folderBindings.filter((b) => ids.has(b.subject.id)),
    projectBindings: state.projects.map((p) => p.bindings.filter((b) => ids.has(b.subject.id))),
    keys: state.accessKeys.filter((k) => ids.has(k.serviceAccountId)),
    secrets: state.secrets.filter((s) => mine(s.name)),
    databases: state.databases.filter((d) => mine(d.name)),
    functions,
    versions: state.versions.filter((v) => functions.some((f) => f.id === v.functionId)),
    triggers: state.triggers.filter((t) => mine(t.name)),
    gateways: state.gateways.filter((g) => mine(g.name)),
    queues: state.queues.filter((q) => mine(q.name)),
  });
}

/** Ids of every resource of `stage`, to find them in recorded call paths and bodies. */
function stageIds(state: FakeState, stage: string): string[] {
  const snapshot = stageSnapshot(state, stage) as Record<string, { id?: string; url?: string }[]>;
  return Object.values(snapshot)
    .flat()
    .flatMap((x) => [x?.id, x?.url])
    .filter((x): x is string => typeof x === 'string');
}

function touches(call: RecordedCall, ids: readonly string[], stage: string): boolean {
  const text = `${call.path} ${JSON.stringify(call.body)}`;
  return (
    ids.some((id) => text.includes(id)) ||
    text.includes(`datasphere-runner-${stage}-`) ||
    text.includes(`"datasphere-runner-${stage}"`)
  );
}

describe('stages are isolated', () => {
  let fake: FakeYandexCloud;
  before(async () => {
    fake = await startCloud();
    await deploy(fake, 'prod', { gateway: true });
  });
  after(() => fake.close());

  it('deploys a second stage beside the first without touching it', async () => {
    const prodBefore = stageSnapshot(fake.state, 'prod');
    const prodIds = stageIds(fake.state, 'prod');
    const from = fake.calls.length;
    await deploy(fake, 'test', { gateway: true });
    assert.deepEqual(stageSnapshot(fake.state, 'prod'), prodBefore);
    const mutating = fake.calls.slice(from).filter((c) => c.mutating);
    assert.ok(mutating.length > 20);
    assert.deepEqual(
      mutating.filter((c) => touches(c, prodIds, 'prod')),
      [],
    );
    // The folder now holds both stages' resources, every name carrying its stage.
    for (const name of fake.state.triggers.map((t) => t.name))
      assert.match(name, /^datasphere-runner-(prod|test)-/);
    assert.equal(fake.state.functions.length, 6);
    assert.equal(fake.state.databases.length, 2);
    assert.equal(fake.state.gateways.length, 2);
  });

  it('removes a stage without touching the other; the removed stage keeps its database unless asked', async () => {
    const prodBefore = stageSnapshot(fake.state, 'prod');
    const prodIds = stageIds(fake.state, 'prod');
    const from = fake.calls.length;
    const run = stageRun(fake, 'test');
    try {
      const warnings = await removeStage(run.ctx, {
        projects: [PROJECT],
        projectRole: 'datasphere.community-projects.developer',
        deleteDatabase: false,
      });
      assert.deepEqual(warnings, [
        'kept database datasphere-runner-test (the run history); --delete-database removes it too',
      ]);
    } finally {
      await run.close();
    }
    assert.deepEqual(stageSnapshot(fake.state, 'prod'), prodBefore);
    const mutating = fake.calls.slice(from).filter((c) => c.mutating);
    assert.deepEqual(
      mutating.filter((c) => touches(c, prodIds, 'prod')),
      [],
    );
    assert.deepEqual(labels(fake, from, true), [
      'apiGateway.deleteApiGateway',
      'triggers.deleteTrigger',
      'triggers.deleteTrigger',
      'triggers.deleteTrigger',
      'triggers.deleteTrigger',
      'functions.deleteFunction',
      'functions.deleteFunction',
      'functions.deleteFunction',
      'datasphere.updateProjectAccessBindings',
      'ymq.DeleteQueue',
      'ymq.DeleteQueue',
      'ymq.DeleteQueue',
      'lockbox.deleteSecret',
      'resourceManager.updateAccessBindings',
      'iam.deleteServiceAccount',
      'iam.deleteServiceAccount',
      'iam.deleteServiceAccount',
    ]);
    const left = stageSnapshot(fake.state, 'test') as Record<string, unknown[]>;
    assert.deepEqual(
      Object.entries(left)
        .filter(([, list]) => list.flat().length > 0)
        .map(([kind]) => kind),
      ['databases'],
    );
    // Removing again with --delete-database deletes only what is left: the database.
    const second = fake.calls.length;
    const rerun = stageRun(fake, 'test');
    try {
      assert.deepEqual(
        await removeStage(rerun.ctx, {
          projects: [PROJECT],
          projectRole: 'datasphere.community-projects.developer',
          deleteDatabase: true,
        }),
        [],
      );
    } finally {
      await rerun.close();
    }
    assert.deepEqual(labels(fake, second, true), ['ydb.deleteDatabase']);
    // prod is still whole, and a redeploy of prod changes nothing.
    const again = fake.calls.length;
    await deploy(fake, 'prod', { gateway: true });
    assert.deepEqual(labels(fake, again, true), []);
  });
});

describe('DataSphere project access', () => {
  let fake: FakeYandexCloud;
  before(async () => {
    fake = await startCloud({ deployerIsProjectAdmin: false });
  });
  after(() => fake.close());

  it('stops before any function or trigger exists when the deployer may not add members, and prints the admin command', async () => {
    const run = stageRun(fake, 'prod');
    let denied: ProjectAccessDenied | undefined;
    try {
      await deployStage(run.ctx, run.plan);
    } catch (error) {
      if (error instanceof ProjectAccessDenied) denied = error;
      else throw error;
    } finally {
      await run.close();
    }
    assert.ok(denied, 'the deploy stopped with ProjectAccessDenied');
    assert.deepEqual(denied.projects, [PROJECT]);
    assert.deepEqual(labels(fake, 0, true), [
      'iam.createServiceAccount',
      'iam.createServiceAccount',
      'iam.createServiceAccount',
      'datasphere.updateProjectAccessBindings',
    ]);
    assert.equal(fake.state.functions.length + fake.state.triggers.length, 0);
    const [command] = denied.commands;
    assert.match(command ?? '', /^curl -sS -X PATCH -H "Authorization: Bearer \$\(yc iam create-token\)"/);
    // The project admin runs it (here: the same request, sent to the fake by a project admin).
    const url = /(http\S+:updateAccessBindings)/.exec(command ?? '')?.[1];
    const body = /-d '(.*)'$/.exec(command ?? '')?.[1];
    assert.ok(url !== undefined && body !== undefined);
    fake.setDeployerIsProjectAdmin(true);
    const answer = await request(url, {
      method: 'PATCH',
      body,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
    assert.equal(answer.statusCode, 200);
    await answer.body.dump();
    fake.setDeployerIsProjectAdmin(false);
    // Now the deploy completes (membership is already there: it needs no admin right any more).
    await deploy(fake, 'prod');
    assert.ok(labels(fake).filter((l) => l === 'datasphere.updateProjectAccessBindings').length === 2);
  });

  it('verification fails loudly when the account is no longer a project member', async () => {
    const project = fake.state.projects.find((p) => p.id === PROJECT);
    project?.bindings.splice(0);
    const run = stageRun(fake, 'prod');
    try {
      assert.deepEqual(await verifyStage(run.ctx, run.plan), [
        `DataSphere project ${PROJECT}: datasphere-runner-prod-functions is not a member with datasphere.community-projects.developer`,
      ]);
    } finally {
      await run.close();
    }
  });
});

describe('the verification and the repair of a drifted stage', () => {
  let fake: FakeYandexCloud;
  const env = {
    NOTIFY_WEBHOOK_URL: 'https://hooks.example.test/runs',
    NOTIFY_WEBHOOK_SECRET: 'whsec-drift-test',
  };
  before(async () => {
    fake = await startCloud();
    await deploy(fake, 'prod', { env, gateway: true });
  });
  after(() => fake.close());

  it('names a version made by hand with the secret as a plain variable, and the next deploy replaces it', async () => {
    const check = fake.state.functions.find((f) => f.name === 'datasphere-runner-prod-check');
    const latest = fake.state.versions.find((v) => v.functionId === check?.id && v.tags.includes('$latest'));
    assert.ok(check && latest);
    // What the old README recipe did: a version with the secret in its environment, and no description.
    latest.tags = [];
    const body = latest.body as { environment: Record<string, string> };
    fake.state.versions.push({
      id: 'd4vhandmade000000001',
      functionId: check.id,
      createdAt: new Date().toISOString(),
      tags: ['$latest'],
      code: latest.code,
      body: {
        ...latest.body,
        description: '',
        secrets: [],
        environment: { ...body.environment, NOTIFY_WEBHOOK_SECRET: 'whsec-drift-test' },
      },
    });
    const run = stageRun(fake, 'prod', { env, gateway: true });
    try {
      assert.deepEqual(await verifyStage(run.ctx, run.plan), [
        'function datasphere-runner-prod-check (version d4vhandmade000000001): NOTIFY_WEBHOOK_SECRET is not a Lockbox reference',
        'function datasphere-runner-prod-check (version d4vhandmade000000001): NOTIFY_WEBHOOK_SECRET is a plain variable',
      ]);
      await deployStage(run.ctx, run.plan);
      assert.deepEqual(await verifyStage(run.ctx, run.plan), []);
    } finally {
      await run.close();
    }
  });

  it('updates the gateway only when its rendered spec changed', async () => {
    const gateway = fake.state.gateways[0];
    assert.ok(gateway);
    gateway.labels['spec-sha256'] = 'an-older-spec';
    const from = fake.calls.length;
    await deploy(fake, 'prod', { env, gateway: true });
    assert.deepEqual(labels(fake, from, true), ['apiGateway.updateApiGateway']);
    assert.match(gateway.spec, /function_id: d4e\d+/);
  });
});
