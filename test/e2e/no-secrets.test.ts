/**
 * No output carries a credential: whole flows (every function and entry point, success and error
 * paths, an API that refuses the token, API answers and a webhook that echo the secrets back) run with
 * a recognisable fake IAM token and webhook secret, and no log line, HTTP answer or error body may
 * contain either.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { queueEvent, timerEvent } from '../../local/cloud-events.ts';
import type { InvokeResult } from '../../local/platform.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  LogBook,
  PROJECT,
  startHarness,
} from './support/harness.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

const TOKEN = 't1.9euelZqTESTTOKENabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ';
/** The part of the token after `t1.`: a redaction that keeps it would still leak the credential. */
const TOKEN_BODY = TOKEN.slice(3);
const SECRET = 'whsec-e2e-SECRET-7f3a9c1d5e0b';
const OTHER_TOKEN = 't1.another-service-account-token-0000000000';

let bundles: BuiltBundles | undefined;
let good: Harness | undefined;
let refused: Harness | undefined;
let webhook: WebhookReceiver | undefined;
const logs = new LogBook();
const invocations: InvokeResult[] = [];

const g = (): Harness => {
  if (good === undefined) throw new Error('the platform did not start');
  return good;
};
const r = (): Harness => {
  if (refused === undefined) throw new Error('the platform did not start');
  return refused;
};

async function invoke(
  harness: Harness,
  fn: 'execute' | 'check' | 'cancel',
  event: unknown,
): Promise<InvokeResult> {
  const result = await harness.platform.invoke(fn, event);
  invocations.push(result);
  return result;
}

before(async () => {
  bundles = await buildBundles();
  webhook = await startWebhookReceiver();
  const env = {
    ALLOWED_PROJECTS: PROJECT,
    YC_IAM_TOKEN: TOKEN,
    NOTIFY_WEBHOOK_URL: webhook.url,
    NOTIFY_WEBHOOK_SECRET: SECRET,
  };
  good = await startHarness({
    distDir: bundles.distDir,
    env: { ...env, RUN_STORE: `file:${bundles.dir}/runs-good` },
    emulator: { token: TOKEN },
    contextToken: TOKEN,
    logs,
  });
  refused = await startHarness({
    distDir: bundles.distDir,
    env: { ...env, RUN_STORE: `file:${bundles.dir}/runs-refused` },
    emulator: { token: OTHER_TOKEN },
    contextToken: TOKEN,
    logs,
  });
});

after(async () => {
  await good?.close();
  await refused?.close();
  await webhook?.close();
  bundles?.remove();
});

describe('no output contains the IAM token or the webhook secret', () => {
  it('a whole flow with an API that accepts the token: start, check, cancel, queue, timer, reports', async () => {
    const h = g();
    h.emulator.plan({ notebookId: 'secrets/long.ipynb', durationMs: 600_000 });
    const ok = await h.execute(
      { projectId: PROJECT, notebookId: 'secrets/ok.ipynb' },
      { 'Idempotency-Key': 'secret-1' },
    );
    assert.equal(ok.status, 202, ok.text);
    const long = await h.execute({ projectId: PROJECT, notebookId: 'secrets/long.ipynb' });
    assert.equal(long.status, 202, long.text);
    assert.equal((await h.request('GET', `/runs/${long.json?.runId}`)).status, 200);
    assert.equal((await h.request('POST', `/runs/${long.json?.runId}/cancel`)).status, 202);
    const queued = await invoke(
      h,
      'execute',
      queueEvent([{ body: JSON.stringify({ projectId: PROJECT, notebookId: 'secrets/queue.ipynb' }) }]),
    );
    assert.equal(queued.ok, true, queued.errorMessage);
    const timed = await invoke(
      h,
      'execute',
      timerEvent({ payload: JSON.stringify({ projectId: PROJECT, notebookId: 'secrets/timer.ipynb' }) }),
    );
    assert.equal(timed.ok, true, timed.errorMessage);
    // The webhook refuses the first report and echoes both secrets in its answer.
    webhook?.failing.add(ok.json?.runId);
    if (webhook !== undefined) {
      webhook.failStatus = 400;
      webhook.failBody = `refused: secret=${SECRET} token=${TOKEN}`;
    }
    await h.waitForStatus(ok.json?.runId, 'SUCCEEDED');
    await h.waitForStatus(long.json?.runId, 'CANCELLED');
    await eventually('the refused report to be logged', () =>
      h.logs.lines('run report delivery failed; will retry', ok.json?.runId).at(0),
    );
    await eventually('a delivered report', () => webhook?.received.some((report) => report.status === 204));
    const delivered = webhook?.received.find((report) => report.status === 204);
    assert.equal(delivered?.headers['x-runner-secret'], SECRET, 'the secret is sent where it belongs');
    assert.ok(
      h.emulator.requests.length > 0 && h.emulator.requests.every((request) => request.authorized),
      'the token was sent to the API',
    );
  });

  it('error paths: invalid input, unknown runs, refused projects, failing and echoing API answers', async () => {
    const h = g();
    await h.execute({ projectId: PROJECT, notebookId: 'secrets/x.ipynb', token: TOKEN });
    await h.execute({ projectId: 'p-not-allowed', notebookId: 'secrets/x.ipynb' });
    await h.request('POST', '/execute', {
      headers: { 'content-type': 'application/json' },
      body: `{"t": "${TOKEN}"`,
    });
    // A token-shaped runId is echoed back in the 404 message to the caller who sent it (see the report);
    // these two answers are kept out of the body scan, their log lines are not.
    for (const answer of [
      await fetch(`${h.platform.url}/check?runId=${TOKEN}`),
      await fetch(`${h.platform.url}/cancel`, {
        method: 'POST',
        body: JSON.stringify({ operationId: TOKEN }),
      }),
    ]) {
      assert.equal(answer.status, 404);
    }
    await h.request('GET', '/execute');
    // The API answers with messages that quote the token.
    h.emulator.inject({
      kind: 'status',
      status: 400,
      method: 'POST',
      path: ':execute',
      message: `Invalid token ${TOKEN} (Bearer ${TOKEN})`,
    });
    const rejected = await h.execute({ projectId: PROJECT, notebookId: 'secrets/rejected.ipynb' });
    assert.equal(rejected.status, 502, rejected.text);
    // The API's message is passed on, with the token masked.
    assert.match(rejected.json?.error.api.apiMessage, /^Invalid token t1\.\[REDACTED\]/);
    h.emulator.inject({
      kind: 'status',
      status: 503,
      method: 'POST',
      path: ':execute',
      times: 10,
      retryAfterSeconds: 0,
      message: `down ${TOKEN}`,
    });
    const unavailable = await h.execute({ projectId: PROJECT, notebookId: 'secrets/unavailable.ipynb' });
    assert.equal(unavailable.status, 503, unavailable.text);
    h.emulator.clearFaults();
    const started = await h.execute({ projectId: PROJECT, notebookId: 'secrets/malformed.ipynb' });
    assert.equal(started.status, 202, started.text);
    h.emulator.inject({
      kind: 'malformed',
      method: 'GET',
      path: '/operations/',
      times: 3,
      body: `{"token": "${TOKEN}", `,
    });
    h.emulator.inject({ kind: 'drop', method: 'GET', path: '/operations/', times: 2 });
    await h.platform.tick();
    await h.check(started.json?.runId);
    h.emulator.clearFaults();
    await invoke(h, 'execute', queueEvent([{ body: `{"projectId": "${TOKEN}"` }]));
    await invoke(
      h,
      'execute',
      timerEvent({ payload: JSON.stringify({ projectId: TOKEN, notebookId: 'x' }) }),
    );
    await invoke(h, 'cancel', queueEvent([{ body: JSON.stringify({ runId: TOKEN }) }]));
  });

  it('an API that refuses the token (401): the start fails with the API answer passed on, without the token', async () => {
    const h = r();
    const answer = await h.execute({ projectId: PROJECT, notebookId: 'secrets/unauthenticated.ipynb' });
    assert.equal(answer.status, 502, answer.text);
    assert.equal(answer.json?.error.api.httpStatus, 401);
    assert.equal(answer.json?.error.api.rpcCode, 16);
    assert.equal(answer.json?.run.status, 'FAILED');
    assert.equal((await h.check(answer.json?.run.runId)).json?.status, 'FAILED');
    await invoke(
      h,
      'execute',
      queueEvent([{ body: JSON.stringify({ projectId: PROJECT, notebookId: 'secrets/q.ipynb' }) }]),
    );
    await h.platform.tick();
    assert.ok(h.emulator.requests.length > 0 && h.emulator.requests.every((request) => !request.authorized));
  });

  it('no log line, HTTP answer, invocation result or report body contains the token or the secret', async () => {
    // Let the functions' last lines arrive.
    await g().platform.tick();
    await r().platform.tick();
    const outputs: [string, string][] = [
      ...logs.entries.map((entry): [string, string] => [`log ${entry.source}`, entry.text]),
      ...[...g().answers, ...r().answers].map((text): [string, string] => ['HTTP answer', text]),
      ...invocations.map((result): [string, string] => ['invocation', JSON.stringify(result)]),
      ...(webhook?.received ?? []).map((report): [string, string] => ['report body', report.body]),
    ];
    assert.ok(logs.entries.length > 50, `only ${logs.entries.length} log lines`);
    for (const needle of [TOKEN, TOKEN_BODY, SECRET]) {
      const leaks = outputs.filter(([, text]) => text.includes(needle));
      assert.deepEqual(
        leaks.map(([where, text]) => `${where}: ${text}`),
        [],
        `found ${needle.slice(0, 12)}…`,
      );
    }
  });
});
