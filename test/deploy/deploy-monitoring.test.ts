/**
 * Metrics as the deploy ships them, against the local fake: monitoring.editor for the functions'
 * account on the folder, METRICS_FOLDER_ID on the check function, and the dashboard and alerts of
 * deploy/monitoring/ applied after the verification, idempotently and never failing the deploy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verifyStage } from '../../deploy/verify-stage.ts';
import { FOLDER, fullDeploy, labels, type StageRun, stageRun, startCloud } from './deploy-harness.ts';
import type { FakeYandexCloud } from './fake-yandex-cloud.ts';

const CHANNEL = { MONITORING_CHANNEL_ID: 'fbcfakechannel000001' };
const monitoringCalls = (fake: FakeYandexCloud, from: number, mutatingOnly = false): string[] =>
  labels(fake, from, mutatingOnly).filter((l) => l.startsWith('monitoring.'));

async function deploy(run: StageRun): Promise<readonly string[]> {
  try {
    return (await fullDeploy(run)).notes;
  } finally {
    await run.close();
  }
}

function checkEnvironment(fake: FakeYandexCloud, stage = 'prod'): Record<string, string> {
  const fn = fake.state.functions.find((f) => f.name === `datasphere-runner-${stage}-check`);
  const version = fake.state.versions.find((v) => v.functionId === fn?.id && v.tags.includes('$latest'));
  return version?.body.environment as Record<string, string>;
}

const functionsAccount = (fake: FakeYandexCloud, stage = 'prod') =>
  fake.state.serviceAccounts.find((a) => a.name === `datasphere-runner-${stage}-functions`)?.id;

describe('metrics, dashboard and alerts, as deployed', () => {
  let fake: FakeYandexCloud;
  before(async () => {
    fake = await startCloud();
  });
  after(() => fake.close());

  it('an alerts API answering 501 is reported, not fatal: the dashboard is made, the stage verified', async () => {
    fake.failNext('monitoring.listAlerts', { status: 501, code: 12, message: 'Method not implemented' }, 2);
    const notes = await deploy(stageRun(fake, 'prod', { env: CHANNEL }));
    assert.deepEqual(monitoringCalls(fake, 0), [
      'monitoring.listDashboards',
      'monitoring.createDashboard',
      'monitoring.listAlerts',
      'monitoring.listAlerts',
    ]);
    assert.deepEqual(notes, [
      'the alerts API refused datasphere-runner-run-failed, datasphere-runner-no-sweep: create them in the console from deploy/monitoring/alerts.json',
    ]);
    assert.equal(checkEnvironment(fake).METRICS_FOLDER_ID, FOLDER);
    assert.ok(
      fake.state.folderBindings.some(
        (b) => b.roleId === 'monitoring.editor' && b.subject.id === functionsAccount(fake),
      ),
    );
    const [dashboard] = fake.state.dashboards;
    assert.equal(dashboard?.folderId, FOLDER);
    assert.ok(
      JSON.stringify(dashboard?.body).includes(`folderId=\\"${FOLDER}\\"`),
      'queries name the folder',
    );
  });

  it('the next deploy creates the alerts it could not, and changes nothing else', async () => {
    const from = fake.calls.length;
    await deploy(stageRun(fake, 'prod', { env: CHANNEL }));
    assert.deepEqual(labels(fake, from, true), ['monitoring.createAlert', 'monitoring.createAlert']);
    const again = fake.calls.length;
    await deploy(stageRun(fake, 'prod', { env: CHANNEL }));
    assert.deepEqual(labels(fake, again, true), []);
  });

  it('replaces the dashboard with its etag only when its definition changed', async () => {
    const dashboard = fake.state.dashboards[0];
    assert.ok(dashboard);
    dashboard.labels['definition-sha256'] = 'an0older0definition';
    const etag = dashboard.etag;
    const from = fake.calls.length;
    await deploy(stageRun(fake, 'prod', { env: CHANNEL }));
    assert.deepEqual(labels(fake, from, true), ['monitoring.updateDashboard']);
    const patch = fake.calls.slice(from).find((c) => c.label === 'monitoring.updateDashboard');
    assert.equal((patch?.body as { etag?: string } | undefined)?.etag, etag);
    assert.match(dashboard.labels['definition-sha256'] ?? '', /^[0-9a-f]{32}$/);
    assert.equal(dashboard.labels.app, 'datasphere-runner');
  });

  it('a Monitoring that refuses the deployer does not fail the deploy; without a channel only the dashboard is applied', async () => {
    fake.failNext('monitoring.listDashboards', { status: 403, code: 7, message: 'Permission denied' });
    const refused = await deploy(stageRun(fake, 'prod'));
    assert.equal(refused.length, 2, refused.join('\n'));
    assert.match(
      refused[0] ?? '',
      /^the dashboard was not applied \(GET \S*\/monitoring\/v3\/dashboards: HTTP 403: Permission denied\); the functions do not need it/,
    );
    assert.match(refused[1] ?? '', /^no alerts: set MONITORING_CHANNEL_ID/);
    const from = fake.calls.length;
    await deploy(stageRun(fake, 'prod'));
    assert.deepEqual(
      monitoringCalls(fake, from),
      ['monitoring.listDashboards'],
      'no alert call without a channel',
    );
  });

  it('verification names a missing monitoring.editor and a check function writing elsewhere', async () => {
    const account = functionsAccount(fake);
    const binding = fake.state.folderBindings.find(
      (b) => b.roleId === 'monitoring.editor' && b.subject.id === account,
    );
    assert.ok(binding);
    fake.state.folderBindings.splice(fake.state.folderBindings.indexOf(binding), 1);
    const environment = checkEnvironment(fake);
    environment.METRICS_FOLDER_ID = 'b1gsomeotherfolder00';
    const run = stageRun(fake, 'prod');
    try {
      const problems = await verifyStage(run.ctx, run.plan);
      assert.deepEqual(
        problems.map((p) => p.replace(/\(version \w+\)/, '(version …)')),
        [
          'service account datasphere-runner-prod-functions: lacks monitoring.editor on the folder',
          `function datasphere-runner-prod-check (version …): METRICS_FOLDER_ID is "b1gsomeotherfolder00", expected "${FOLDER}"`,
        ],
      );
    } finally {
      fake.state.folderBindings.push(binding);
      environment.METRICS_FOLDER_ID = FOLDER;
      await run.close();
    }
  });

  it('a second stage in the folder grants its own account and finds the folder dashboard current', async () => {
    const from = fake.calls.length;
    await deploy(stageRun(fake, 'test', { env: CHANNEL }));
    assert.deepEqual(monitoringCalls(fake, from, true), []);
    assert.equal(fake.state.dashboards.length, 1);
    assert.equal(checkEnvironment(fake, 'test').METRICS_FOLDER_ID, FOLDER);
    assert.ok(
      fake.state.folderBindings.some(
        (b) => b.roleId === 'monitoring.editor' && b.subject.id === functionsAccount(fake, 'test'),
      ),
    );
  });

  it('METRICS=off: the role is taken back, the check function writes nothing, no dashboard call', async () => {
    const from = fake.calls.length;
    const run = stageRun(fake, 'test', { env: { METRICS: 'off' } });
    const notes = await deploy(run);
    assert.deepEqual(notes, ['metrics are off (METRICS=off): no dashboard']);
    const roles = fake.calls.slice(from).filter((c) => c.label === 'resourceManager.updateAccessBindings');
    assert.deepEqual(
      roles.map((c) => c.body),
      [
        {
          accessBindingDeltas: [
            {
              action: 'REMOVE',
              accessBinding: {
                roleId: 'monitoring.editor',
                subject: { id: functionsAccount(fake, 'test'), type: 'serviceAccount' },
              },
            },
          ],
        },
      ],
    );
    assert.equal(checkEnvironment(fake, 'test').METRICS_FOLDER_ID, '');
    assert.deepEqual(monitoringCalls(fake, from), []);
    // serverless.yaml's environment of check changed: the plugin ran once (it uploads all three).
    assert.equal(run.plugin.runs.length, 1);
    assert.ok(
      fake.state.folderBindings.some(
        (b) => b.roleId === 'monitoring.editor' && b.subject.id === functionsAccount(fake, 'prod'),
      ),
      "prod's grant is untouched",
    );
  });
});
