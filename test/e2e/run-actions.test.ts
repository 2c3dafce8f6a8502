/**
 * Open and Activate as run actions (issue #10 item 1) end to end, through the BUILT bundles and the
 * emulator, on both ledgers: from HTTP, a queue message, a timer payload and a jobs-file job; a failed
 * Open, a cancelled Open, an Open past its deadline, and an execute process killed (SIGKILL) while its
 * Open call is in flight, re-driven by the sweep with the same Idempotency-Key. Every run is followed to
 * its end, reported once (log line and webhook) and listed; the Open's session token reaches no log
 * line, answer, ledger item or report. The API calls each run cost are counted and printed.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { queueEvent, timerEvent } from '../../local/cloud-events.ts';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { eventually, type Json, PROJECT } from './support/harness.ts';
import { startKilledMidCall } from './support/kill-mid-call.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { claimedRunId, finalRecord } from './support/run-waits.ts';
import { docApi, STORE_NAMES } from './support/stores.ts';

const LONG = 'p-open-long';
const FAILING = 'p-open-fails';
const KILLED = 'p-open-killed';
const ALLOWED = [PROJECT, LONG, FAILING, KILLED].join(',');
const LEASE_SECONDS = 10;
const JOBS = `
jobs:
  morning-open-2033:
    schedule: "45 5 ? * * 2033"
    run:
      action: open
      projectId: ${PROJECT}
  image-2033:
    schedule: "0 2 ? * * 2033"
    concurrency: allow
    run:
      action: activate
      projectId: ${PROJECT}
      dockerId: img-2033
`;

const bundles = bundlesForTestFile({ jobs: JOBS });

/** Every regular file under `dir`, read as text (the file ledger; its index entries are links). */
function readTree(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isDirectory()) return readTree(path);
    return stat.isFile() ? [readFileSync(path, 'utf8')] : [];
  });
}

for (const storeName of STORE_NAMES) {
  describe(`open and activate runs end to end (${storeName} ledger)`, () => {
    const {
      harness: h,
      store,
      clock,
      webhook,
    } = platformOnStore({
      bundles,
      store: storeName,
      dirPrefix: 'ds-actions-',
      movableClock: true,
      webhook: true,
      env: { ALLOWED_PROJECTS: ALLOWED, START_RECOVERY_SECONDS: String(LEASE_SECONDS) },
      emulator: { openDurationMs: 400, activateDurationMs: 200 },
    });
    /** API calls per run, printed at the end (figures for docs/actions.md). */
    const costs: string[] = [];

    before(() => {
      h().emulator.plan({ kind: 'open', projectId: LONG, durationMs: 600_000 });
      h().emulator.plan({ kind: 'open', projectId: FAILING, outcome: 'OPERATION_ERROR', durationMs: 100 });
    });

    const opOf = (operationId: string) =>
      h()
        .emulator.operations()
        .find((op) => op.id === operationId);

    /** The Open/Activate calls, Gets and Cancels the emulator saw for one operation. */
    function callsOf(operationId: string) {
      const key = opOf(operationId)?.idempotencyKey;
      const requests = h().emulator.requests;
      return {
        starts: requests.filter((r) => r.method === 'POST' && key !== undefined && r.idempotencyKey === key)
          .length,
        gets: requests.filter((r) => r.method === 'GET' && r.path === `/operations/${operationId}`).length,
        cancels: requests.filter((r) => r.path === `/operations/${operationId}:cancel`).length,
      };
    }

    /** Reported exactly once, in the log and to the webhook, with the public record of the run. */
    async function assertReportedOnce(runId: string, status: string, action: string) {
      await eventually(`the report of ${runId}`, async () => {
        await h().platform.tick();
        return h().logs.finishedCount(runId) >= 1 && webhook().about(runId).length >= 1;
      });
      await h().platform.tick();
      const lines = h().logs.lines('run finished', runId);
      assert.equal(lines.length, 1, `run ${runId} reported ${lines.length} times`);
      assert.equal(lines[0]?.action, action);
      assert.equal((lines[0]?.run as Json | undefined)?.status, status);
      const hooks = webhook().about(runId);
      assert.equal(hooks.length, 1);
      assert.equal(hooks[0]?.json?.run.action, action);
      assert.equal(hooks[0]?.json?.run.status, status);
      return { line: lines[0] as Json, hook: hooks[0]?.json as Json };
    }

    function cost(t: TestContext, what: string, operationId: string) {
      const calls = callsOf(operationId);
      const text = `${what}: ${calls.starts} start call(s), ${calls.gets} Operation.Get, ${calls.cancels} Operation.Cancel`;
      costs.push(text);
      t.diagnostic(text);
      return calls;
    }

    it('open over HTTP: claimed, opened once, swept to SUCCEEDED with result.projectUrl, reported once, listed', async (t) => {
      const answer = await h().execute(
        { action: 'open', projectId: PROJECT },
        { 'Idempotency-Key': `open-${storeName}` },
      );
      assert.equal(answer.status, 202, answer.text);
      const started = answer.json as Json;
      assert.equal(started.action, 'open');
      assert.equal(started.status, 'RUNNING');
      assert.equal(started.notebookId, undefined);
      assert.equal(opOf(started.operationId)?.kind, 'open');
      // The same key again answers the same run and sends nothing.
      const again = await h().execute(
        { action: 'open', projectId: PROJECT },
        { 'Idempotency-Key': `open-${storeName}` },
      );
      assert.equal(again.json?.runId, started.runId);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      const record = await finalRecord(h(), started.runId);
      assert.equal(record.status, 'SUCCEEDED', JSON.stringify(record));
      assert.deepEqual(record.result, { projectUrl: `${h().emulator.url}/_emulator/ide/${PROJECT}` });
      assert.equal(record.executionStatus, undefined);
      assert.equal(record.error, undefined);
      assert.deepEqual(
        (record.events as Json[]).map((event) => event.type),
        ['claimed', 'started', 'finished', 'reported'],
      );
      assert.equal(typeof record.checks, 'number');
      const { hook } = await assertReportedOnce(started.runId, 'SUCCEEDED', 'open');
      assert.deepEqual(hook.run.result, record.result);
      const listed = await h().request('GET', `/runs?action=open&projectId=${PROJECT}`);
      assert.equal(listed.status, 200, listed.text);
      assert.ok(((listed.json?.runs ?? []) as Json[]).some((run) => run.runId === started.runId));
      assert.ok(((listed.json?.runs ?? []) as Json[]).every((run) => run.action === 'open'));
      const executes = await h().request('GET', '/runs?action=execute');
      assert.ok(!((executes.json?.runs ?? []) as Json[]).some((run) => run.runId === started.runId));
      const calls = cost(t, 'open over HTTP', started.operationId);
      assert.equal(calls.starts, 1);
      assert.equal(calls.cancels, 0);
      assert.ok(calls.gets >= 1);
    });

    it('activate over HTTP: DockerImage.Activate of dockerId in projectId, SUCCEEDED on Empty, no result', async (t) => {
      const answer = await h().execute({ action: 'activate', projectId: PROJECT, dockerId: 'img-http' });
      assert.equal(answer.status, 202, answer.text);
      const started = answer.json as Json;
      assert.equal(started.action, 'activate');
      const activations = h().emulator.requests.filter((r) => r.path === '/datasphere/v2/docker/activate');
      assert.equal(
        activations.filter((r) => r.idempotencyKey === opOf(started.operationId)?.idempotencyKey).length,
        1,
      );
      const record = await finalRecord(h(), started.runId);
      assert.equal(record.status, 'SUCCEEDED', JSON.stringify(record));
      assert.equal(record.result, undefined);
      assert.equal(record.executionStatus, undefined);
      await assertReportedOnce(started.runId, 'SUCCEEDED', 'activate');
      const listed = await h().request('GET', '/runs?action=activate');
      assert.ok(((listed.json?.runs ?? []) as Json[]).some((run) => run.runId === started.runId));
      const calls = cost(t, 'activate over HTTP', started.operationId);
      assert.equal(calls.starts, 1);
      assert.equal(calls.cancels, 0);
      // No Execute was sent for an activate run.
      assert.equal(h().executeRequests(PROJECT).length, 0);
    });

    it('open and activate from one Message Queue batch, and redelivered: one operation each', async () => {
      const event = queueEvent([
        { messageId: `q-open-${storeName}`, body: JSON.stringify({ action: 'open', projectId: PROJECT }) },
        {
          messageId: `q-activate-${storeName}`,
          body: JSON.stringify({ action: 'activate', projectId: PROJECT, dockerId: 'img-queue' }),
        },
      ]);
      const result = await h().platform.invoke('execute', event);
      assert.deepEqual(result, { ok: true, result: { messages: 2, done: 2, dropped: 0 } });
      assert.equal((await h().platform.invoke('execute', event)).ok, true, 'the redelivery');
      const openId = await claimedRunId(h(), (line) => line.trigger === 'queue' && line.action === 'open');
      const activateId = await claimedRunId(
        h(),
        (line) => line.trigger === 'queue' && line.action === 'activate',
      );
      assert.equal(
        h()
          .logs.lines('run claimed')
          .filter((line) => line.trigger === 'queue').length,
        2,
      );
      const opened = await finalRecord(h(), openId);
      const activated = await finalRecord(h(), activateId);
      assert.equal(opened.status, 'SUCCEEDED');
      assert.equal(opened.trigger, 'queue');
      assert.equal(typeof opened.result?.projectUrl, 'string');
      assert.equal(activated.status, 'SUCCEEDED');
      for (const run of [opened, activated]) assert.equal(callsOf(run.operationId).starts, 1);
      await assertReportedOnce(openId, 'SUCCEEDED', 'open');
      await assertReportedOnce(activateId, 'SUCCEEDED', 'activate');
    });

    it('open from a timer payload, and the same event again: one run', async () => {
      const event = timerEvent({
        eventId: `a1s${storeName}openpayload`,
        payload: JSON.stringify({ action: 'open', projectId: PROJECT, timeoutSeconds: 3600 }),
      });
      assert.equal((await h().platform.invoke('execute', event)).ok, true);
      assert.equal((await h().platform.invoke('execute', event)).ok, true);
      const runId = await claimedRunId(h(), (line) => line.trigger === 'timer' && line.action === 'open');
      const record = await finalRecord(h(), runId);
      assert.equal(record.status, 'SUCCEEDED');
      assert.equal(Date.parse(record.deadline) - Date.parse(record.createdAt), 3600_000);
      assert.equal(callsOf(record.operationId).starts, 1);
      assert.equal(
        h()
          .logs.lines('run claimed')
          .filter((line) => line.trigger === 'timer').length,
        1,
      );
      await assertReportedOnce(runId, 'SUCCEEDED', 'open');
    });

    it('jobs-file jobs: a morning open and an image activation start at their minute, once', async () => {
      await h().platform.tick(new Date('2033-03-04T05:45:10Z'));
      await h().platform.tick(new Date('2033-03-04T05:45:40Z'));
      await h().platform.tick(new Date('2033-03-04T02:00:05Z'));
      const openId = await claimedRunId(h(), (line) => line.job === 'morning-open-2033');
      const imageId = await claimedRunId(h(), (line) => line.job === 'image-2033');
      assert.equal(
        h()
          .logs.lines('run claimed')
          .filter((line) => line.job === 'morning-open-2033').length,
        1,
      );
      const opened = await finalRecord(h(), openId);
      assert.equal(opened.status, 'SUCCEEDED');
      assert.equal(opened.trigger, 'schedule');
      assert.equal(opened.action, 'open');
      assert.deepEqual(opened.job, { name: 'morning-open-2033', slot: '2033-03-04T05:45:00.000Z' });
      assert.equal(typeof opened.result?.projectUrl, 'string');
      const image = await finalRecord(h(), imageId);
      assert.equal(image.status, 'SUCCEEDED');
      assert.equal(image.action, 'activate');
      await assertReportedOnce(openId, 'SUCCEEDED', 'open');
      const listed = await h().request('GET', '/runs?job=morning-open-2033');
      assert.deepEqual(
        ((listed.json?.runs ?? []) as Json[]).map((run) => run.runId),
        [openId],
      );
    });

    it('an Open that ends with an error is FAILED with the error passed on', async () => {
      const answer = await h().execute({ action: 'open', projectId: FAILING });
      assert.equal(answer.status, 202, answer.text);
      const record = await finalRecord(h(), answer.json?.runId);
      assert.equal(record.status, 'FAILED');
      assert.equal(record.error?.code, 13);
      assert.equal(record.result, undefined);
      await assertReportedOnce(record.runId, 'FAILED', 'open');
    });

    it('an Open cancelled on request: Operation.Cancel, CANCELLED once the operation ends (code 1)', async (t) => {
      const answer = await h().execute({ action: 'open', projectId: LONG });
      const runId = answer.json?.runId as string;
      const cancel = await h().request('POST', '/cancel', { body: { runId } });
      assert.equal(cancel.status, 202, cancel.text);
      assert.equal(cancel.json?.cancelReason, 'user');
      const record = await finalRecord(h(), runId);
      assert.equal(record.status, 'CANCELLED', JSON.stringify(record));
      assert.equal(record.error?.code, 1);
      assert.equal(opOf(record.operationId)?.cancelled, true);
      assert.ok((record.events as Json[]).some((event) => event.type === 'cancel-requested'));
      const again = await h().request('POST', '/cancel', { body: { runId } });
      assert.equal(again.status, 409, again.text);
      assert.equal(again.json?.error.code, 'RUN_ALREADY_FINISHED');
      await assertReportedOnce(runId, 'CANCELLED', 'open');
      cost(t, 'open cancelled on request', record.operationId);
    });

    it('an Open past its deadline: cancelled and TIMED_OUT', async (t) => {
      const answer = await h().execute({ action: 'open', projectId: LONG, timeoutSeconds: 1 });
      const runId = answer.json?.runId as string;
      const record = await finalRecord(h(), runId);
      assert.equal(record.status, 'TIMED_OUT', JSON.stringify(record));
      assert.equal(record.cancelReason, 'deadline');
      assert.equal(opOf(record.operationId)?.cancelled, true);
      await eventually('the timed-out Open to be done', async () => {
        await h().platform.tick();
        return opOf(record.operationId)?.done;
      });
      await assertReportedOnce(runId, 'TIMED_OUT', 'open');
      cost(t, 'open past its deadline', record.operationId);
    });

    it('an execute process killed mid-Open: the sweep re-drives the Open with the same key and follows the one operation', async () => {
      const { runId, operation } = await startKilledMidCall(h(), {
        body: { action: 'open', projectId: KILLED },
        apiPath: `/projects/${KILLED}/open`,
        what: 'the Open to reach the API',
        operation: () =>
          h()
            .emulator.operations()
            .find((op) => op.kind === 'open' && op.projectId === KILLED),
        claimed: (line) => line.projectId === KILLED,
      });
      clock().advance((LEASE_SECONDS + 1) * 1000);
      const record = await finalRecord(h(), runId);
      assert.equal(record.status, 'SUCCEEDED', JSON.stringify(record));
      assert.equal(record.operationId, operation.id);
      assert.equal(typeof record.result?.projectUrl, 'string');
      assert.equal(
        h()
          .emulator.operations()
          .filter((op) => op.projectId === KILLED).length,
        1,
        'one operation',
      );
      const opens = h().emulator.requests.filter((r) => r.path === `/datasphere/v2/projects/${KILLED}/open`);
      assert.equal(opens.length, 2, 'the Open was sent again');
      assert.deepEqual(new Set(opens.map((r) => r.idempotencyKey)), new Set([operation.idempotencyKey]));
      assert.ok((record.events as Json[]).some((event) => event.type === 'start-recovered'));
      assert.equal(h().logs.finishedCount(runId), 1);
    });

    it('the session token of every Open reached no log line, answer, ledger item or report', async (t) => {
      const opens = h()
        .emulator.operations()
        .filter((op) => op.kind === 'open' && op.done);
      assert.ok(opens.length >= 6, `only ${opens.length} Opens finished`);
      // What DataSphere (the emulator) really answered: each finished Open carries a session token.
      const tokens: string[] = [];
      for (const op of opens) {
        const raw = await fetch(`${h().emulator.url}/operations/${op.id}`, {
          headers: { authorization: 'Bearer t1.test-token' },
        });
        const json = (await raw.json()) as Json;
        if (json.response?.sessionToken !== undefined) tokens.push(json.response.sessionToken as string);
      }
      assert.ok(tokens.length >= 5, `only ${tokens.length} tokens`);
      const ledger: string[] = [];
      const runStore = store().env.RUN_STORE ?? '';
      if (runStore.startsWith('file:')) ledger.push(...readTree(runStore.slice('file:'.length)));
      else {
        const scan = (await docApi(runStore.slice('docapi:'.length), 'Scan', {
          TableName: store().env.RUN_STORE_TABLE,
        })) as { Items: unknown[] };
        ledger.push(...scan.Items.map((item) => JSON.stringify(item)));
      }
      assert.ok(
        ledger.some((text) => text.includes('projectUrl')),
        'the ledger holds the Opens',
      );
      const places: Record<string, string[]> = {
        'log lines': [h().logs.allText()],
        'HTTP answers': h().answers,
        'ledger items': ledger,
        'webhook reports': webhook().received.map((report) => report.body),
      };
      for (const [place, texts] of Object.entries(places)) {
        assert.ok(texts.length > 0, place);
        for (const text of texts) {
          for (const token of tokens) assert.ok(!text.includes(token), `a session token in the ${place}`);
          assert.doesNotMatch(text, /emulator-session\.|sessionToken|session_token/, place);
        }
      }
      t.diagnostic(`${tokens.length} session tokens; searched ${ledger.length} ledger items`);
      for (const line of costs) t.diagnostic(line);
    });
  });
}
