/**
 * The Document API store under faults (issue #9 "Also"): the Document API endpoint (a front process
 * before dynalite, see support/docapi-front.ts) is killed with SIGKILL in the middle of a sweep of 40
 * finished runs and started again on the same port. While it is down sweeps fail and a start is refused
 * before any API call; once it is back, every run is recorded, reported and delivered, and nothing was
 * started twice.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { docApi, docApiStoreEnv, startDynalite } from '../ledger/dynalite-server.ts';
import { type ClockControl, clockControl } from './support/clock-control.ts';
import { type DocApiFront, startDocApiFront } from './support/docapi-front.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  type Json,
  PROJECT,
  pause,
  startHarness,
  tempDir,
} from './support/harness.ts';
import { operationsDone } from './support/run-waits.ts';
import { sweepUnderWay } from './support/sweep-process.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

const RUNS = 40;
const tableName = `outage_${randomUUID().slice(0, 8)}`;

describe('the Document API endpoint killed mid-sweep and restarted on the same port', () => {
  const dir = tempDir('ds-rel-outage-');
  let bundles: BuiltBundles | undefined;
  let dynalite: Awaited<ReturnType<typeof startDynalite>> | undefined;
  let front: DocApiFront | undefined;
  let harness: Harness | undefined;
  let webhook: WebhookReceiver | undefined;
  let clock: ClockControl | undefined;
  const h = (): Harness => {
    if (harness === undefined) throw new Error('the platform did not start');
    return harness;
  };

  before(async () => {
    bundles = await buildBundles();
    dynalite = await startDynalite();
    front = await startDocApiFront(Number(new URL(dynalite.endpoint).port));
    clock = clockControl(dir.path);
    webhook = await startWebhookReceiver();
    harness = await startHarness({
      distDir: bundles.distDir,
      env: {
        ...docApiStoreEnv(front.endpoint, tableName),
        ALLOWED_PROJECTS: PROJECT,
        NOTIFY_WEBHOOK_URL: webhook.url,
        ...clock.env,
      },
      emulator: { durationMs: 50 },
    });
  });
  after(async () => {
    await harness?.close();
    await webhook?.close();
    await front?.close();
    await dynalite?.close();
    bundles?.remove();
    dir.remove();
  });

  it(`loses nothing of ${RUNS} runs, starts nothing while down, and reports every ending`, async () => {
    const store = front as DocApiFront;
    const runs: Json[] = [];
    for (let i = 0; i < RUNS; i++) {
      const answer = await h().execute({ projectId: PROJECT, notebookId: `outage/run-${i}.ipynb` });
      assert.equal(answer.status, 202, answer.text);
      runs.push(answer.json as Json);
    }
    const ids = new Set(runs.map((run) => run.operationId as string));
    await operationsDone(h(), ids);

    const { sweeping, ended } = await sweepUnderWay(h(), RUNS / 5);
    await store.kill();
    await sweeping; // it ends with failures (or throws): the store is gone
    const endedBeforeKill = ended();

    // While it is down: a sweep fails, and a start is refused before anything reaches DataSphere.
    const executesBefore = h().executeRequests(PROJECT).length;
    const down = await h().execute({ projectId: PROJECT, notebookId: 'outage/while-down.ipynb' });
    assert.equal(down.status, 503, down.text);
    assert.equal(down.json?.error?.code, 'LEDGER_ERROR');
    assert.equal(
      h().executeRequests(PROJECT).length,
      executesBefore,
      'nothing was sent while the ledger was down',
    );
    const failed = await h().platform.invoke('check', timerEvent());
    assert.equal(failed.ok, false, 'a sweep without its store fails (the next tick sweeps again)');

    await store.restart();
    await eventually(
      'every run to be reported and delivered after the restart',
      async () => {
        clock?.advance(130_000);
        await h().platform.invoke('check', timerEvent());
        await pause(20);
        return runs.every(
          (run) => h().logs.finishedCount(run.runId) >= 1 && (webhook?.about(run.runId).length ?? 0) >= 1,
        );
      },
      { timeoutMs: 60_000, describe: () => h().logs.tail(10) },
    ).catch(async (error: unknown) => {
      // Say what the store holds for every run that was not reported (the item and its index entry).
      const table = tableName;
      const index = (await docApi(store.endpoint, 'Query', {
        TableName: table,
        IndexName: 'open-index',
        KeyConditionExpression: '#s = :s',
        ExpressionAttributeNames: { '#s': 'openShard' },
        ExpressionAttributeValues: { ':s': { S: 'open' } },
      })) as { Items: { pk: { S: string }; doc: { S: string } }[] };
      const lines: string[] = [];
      for (const run of runs) {
        if (h().logs.finishedCount(run.runId) >= 1 && (webhook?.about(run.runId).length ?? 0) >= 1) continue;
        const got = (await docApi(store.endpoint, 'GetItem', {
          TableName: table,
          Key: { pk: { S: `run#${run.runId}` } },
          ConsistentRead: true,
        })) as { Item?: Record<string, { S?: string; N?: string }> };
        const doc = JSON.parse(got.Item?.doc?.S ?? '{}') as Json;
        const entry = index.Items.find((item) => item.pk.S === `run#${run.runId}`);
        const indexed = entry === undefined ? undefined : (JSON.parse(entry.doc.S) as Json);
        lines.push(
          `${run.runId}: item v${doc.version} ${doc.status} next=${doc.nextCheckAt} reported=${doc.reportedAt} ` +
            `index=${indexed === undefined ? 'none' : `v${indexed.version} ${indexed.status} next=${indexed.nextCheckAt}`}`,
        );
      }
      throw new Error(`${(error as Error).message}\n${lines.join('\n')}`);
    });
    for (const run of runs) {
      const record = (await h().check(run.runId)).json as Json;
      assert.equal(record.status, 'SUCCEEDED', JSON.stringify(record));
      assert.equal(record.operationId, run.operationId);
      for (const line of h().logs.lines('run finished', run.runId)) {
        assert.equal(line.deliveryId, `${run.runId}:SUCCEEDED`);
      }
    }
    assert.equal(
      h()
        .emulator.operations()
        .filter((op) => ids.has(op.id)).length,
      RUNS,
    );
    assert.equal(
      h()
        .emulator.operations()
        .filter((op) => op.notebookId === 'outage/while-down.ipynb').length,
      0,
    );
    console.log(
      `[docapi-outage] killed after ${endedBeforeKill}/${RUNS} endings; ` +
        `lines ${runs.map((r) => h().logs.finishedCount(r.runId)).reduce((a, b) => a + b, 0)}, ` +
        `deliveries ${runs.map((r) => webhook?.about(r.runId).length ?? 0).reduce((a, b) => a + b, 0)}`,
    );
  });
});
