/**
 * No output carries a credential: whole flows (every function and entry point, success and error
 * paths, an API that refuses the token, API answers and a webhook that echo the secrets back) run with
 * a recognisable fake IAM token and webhook secret, and no log line, HTTP answer or error body may
 * contain either.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { queueEvent, timerEvent } from '../../local/cloud-events.ts';
import type { InvokeResult } from '../../local/platform.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  type HttpAnswer,
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
// Tokens of shapes no redaction pattern knows (issue #9 item 6): only redaction by value can hide them.
const CONTEXT_TOKEN = 'ctx-OPAQUE-e2e-5b1c9f7a2d3e4f60a1b2c3d4';
const ENV_TOKEN = 'env-OPAQUE-e2e-8e7d6c5b4a39281706f5e4d3';
const METADATA_TOKEN = 'meta-OPAQUE-e2e-1a2b3c4d5e6f708192a3b4c5';
/** What an API that echoes the credential back answers: the token bare, quoted and in a JSON field. */
const ECHO = 'credential {token} is not valid: token {token}, \'{token}\', {"subject": "{token}"}';
const ROUNDS = 8;

let bundles: BuiltBundles | undefined;
let good: Harness | undefined;
let refused: Harness | undefined;
let webhook: WebhookReceiver | undefined;
let opaque: Harness | undefined;
let metadata: Harness | undefined;
// One receiver each: a receiver echoes secrets of the function it serves, not of another one.
let opaqueHook: WebhookReceiver | undefined;
let metadataHook: WebhookReceiver | undefined;
let metadataServer: Server | undefined;
let metadataRequests = 0;
let ticks = 0;
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
  // A function with a context token of another shape (and a YC_IAM_TOKEN it never needs to send).
  opaqueHook = await startWebhookReceiver();
  metadataHook = await startWebhookReceiver();
  opaque = await startHarness({
    distDir: bundles.distDir,
    env: {
      ...env,
      NOTIFY_WEBHOOK_URL: opaqueHook.url,
      YC_IAM_TOKEN: ENV_TOKEN,
      RUN_STORE: `file:${bundles.dir}/runs-opaque`,
    },
    emulator: { token: CONTEXT_TOKEN },
    contextToken: CONTEXT_TOKEN,
    logs,
  });
  // A function with neither: its token comes from the metadata service.
  metadataServer = createServer((req, res) => {
    metadataRequests++;
    if (req.url?.endsWith('/service-accounts/default/token') !== true) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: METADATA_TOKEN, expires_in: 3600, token_type: 'Bearer' }));
  });
  await new Promise<void>((resolve) => metadataServer?.listen(0, '127.0.0.1', resolve));
  const { port } = metadataServer.address() as AddressInfo;
  metadata = await startHarness({
    distDir: bundles.distDir,
    env: {
      ...env,
      NOTIFY_WEBHOOK_URL: metadataHook.url,
      YC_IAM_TOKEN: '',
      YC_METADATA_ADDR: `127.0.0.1:${port}`,
      RUN_STORE: `file:${bundles.dir}/runs-metadata`,
    },
    emulator: { token: METADATA_TOKEN },
    logs,
  });
});

after(async () => {
  await good?.close();
  await refused?.close();
  await opaque?.close();
  await metadata?.close();
  await new Promise((resolve) => metadataServer?.close(resolve));
  await opaqueHook?.close();
  await metadataHook?.close();
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
    ticks++;
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
    ticks++;
    assert.ok(h.emulator.requests.length > 0 && h.emulator.requests.every((request) => !request.authorized));
  });

  // Each function also holds another secret (its YC_IAM_TOKEN, or the webhook secret) the API quotes.
  const echoCases: [string, () => Harness | undefined, () => WebhookReceiver | undefined, string, string][] =
    [
      ['a context token', () => opaque, () => opaqueHook, CONTEXT_TOKEN, ENV_TOKEN],
      ['a metadata-service token', () => metadata, () => metadataHook, METADATA_TOKEN, SECRET],
    ];
  for (const [name, harnessOf, hookOf, token, held] of echoCases) {
    it(`an API that echoes ${name} of another shape back, on every entry point, ${ROUNDS} rounds`, async () => {
      const h = harnessOf();
      const hook = hookOf();
      if (h === undefined || hook === undefined) throw new Error('the platform did not start');
      const echo = (method: string, path: string, status = 400, times = 1) =>
        h.emulator.inject({
          kind: 'status',
          status,
          method,
          path,
          times,
          retryAfterSeconds: 0,
          message: `${ECHO} (and ${held})`,
        });
      for (let round = 0; round < ROUNDS; round++) {
        // A start refused with the token in the API's message: 502 answer, FAILED record, report.
        echo('POST', ':execute');
        const refusedStart: HttpAnswer = await h.execute({
          projectId: PROJECT,
          notebookId: `echo/refused-${round}.ipynb`,
        });
        assert.equal(refusedStart.status, 502, refusedStart.text);
        hook.failing.add(refusedStart.json?.run.runId);
        // A run that starts, then a status check and a cancel the API refuses with the echo.
        const started: HttpAnswer = await h.execute({
          projectId: PROJECT,
          notebookId: `echo/ok-${round}.ipynb`,
        });
        assert.equal(started.status, 202, started.text);
        hook.failing.add(started.json?.runId);
        echo('GET', '/operations/');
        await h.request('GET', `/runs/${started.json?.runId}`);
        echo('GET', ':cancel');
        echo('POST', ':cancel');
        await h.request('POST', `/runs/${started.json?.runId}/cancel`);
        // The queue and the timer: a refused start, and one the API keeps failing (redelivery).
        echo('POST', ':execute');
        const queued = await invoke(
          h,
          'execute',
          queueEvent([
            { body: JSON.stringify({ projectId: PROJECT, notebookId: `echo/queue-${round}.ipynb` }) },
          ]),
        );
        assert.equal(queued.ok, true, queued.errorMessage);
        echo('POST', ':execute', 503, 10);
        const timed = await invoke(
          h,
          'execute',
          timerEvent({
            payload: JSON.stringify({ projectId: PROJECT, notebookId: `echo/timer-${round}.ipynb` }),
          }),
        );
        assert.equal(timed.ok, false, 'a transient failure is thrown for redelivery');
        h.emulator.clearFaults();
        // A sweep: checks, the webhook refuses reports and echoes the secrets in its answer.
        hook.failStatus = 400;
        hook.failBody = `refused ${SECRET}: ${token} '${token}' {"subject":"${token}"} ${held}`;
        echo('GET', '/operations/', 400, 2);
        const swept = await invoke(h, 'check', timerEvent({}));
        assert.equal(swept.ok, true, swept.errorMessage);
        h.emulator.clearFaults();
      }
      await eventually('a refused report with the echo recorded', () =>
        logs
          .lines('run report delivery failed; will retry')
          .some((line) => JSON.stringify(line).includes('refused [REDACTED]: [REDACTED]')),
      );
      const authorized = h.emulator.requests.filter((request) => request.authorized);
      assert.ok(authorized.length >= ROUNDS * 3, `only ${authorized.length} authorized API calls`);
    });
  }

  it('no log line, HTTP answer, invocation result, report or ledger file contains a token or a secret', async () => {
    // Let the functions' last lines arrive.
    for (const h of [g(), r(), opaque, metadata]) {
      await h?.platform.tick();
      ticks++;
    }
    const answers = [g(), r(), opaque, metadata].flatMap((h) => h?.answers ?? []);
    const ledger = ['good', 'refused', 'opaque', 'metadata'].flatMap((name) =>
      filesUnder(join(bundles?.dir ?? '', `runs-${name}`)),
    );
    const outputs: [string, string][] = [
      ...logs.entries.map((entry): [string, string] => [`log ${entry.source}`, entry.text]),
      ...answers.map((text): [string, string] => ['HTTP answer', text]),
      ...invocations.map((result): [string, string] => ['invocation', JSON.stringify(result)]),
      ...[webhook, opaqueHook, metadataHook]
        .flatMap((hook) => hook?.received ?? [])
        .map((report): [string, string] => ['report body', report.body]),
      ...ledger.map(([path, text]): [string, string] => [`ledger ${path}`, text]),
    ];
    assert.ok(logs.entries.length > 50, `only ${logs.entries.length} log lines`);
    assert.ok(metadataRequests > 0, 'the metadata service was asked for a token');
    // The echoes did reach the ledger and the reports, scrubbed: the checks below are not vacuous.
    assert.ok(
      ledger.some(
        ([, text]) => text.includes('"lastError":') && text.includes('refused [REDACTED]: [REDACTED]'),
      ),
      "a failed delivery's lastError is stored, scrubbed",
    );
    assert.ok(
      ledger.some(([, text]) => text.includes('credential [REDACTED] is not valid')),
      "the API's echo is stored, scrubbed",
    );
    const invocationCount = invocations.length + answers.length + 2 * ticks;
    process.stdout.write(
      `secrets scan: ${invocationCount} invocations, ${logs.entries.length} log lines, ${answers.length} answers, ` +
        `${[webhook, opaqueHook, metadataHook].reduce((n, hook) => n + (hook?.received.length ?? 0), 0)} reports, ${ledger.length} ledger files\n`,
    );
    assert.ok(invocationCount >= 100, `only ${invocationCount} invocations`);
    for (const needle of [TOKEN, TOKEN_BODY, SECRET, CONTEXT_TOKEN, ENV_TOKEN, METADATA_TOKEN]) {
      const leaks = outputs.filter(([, text]) => text.includes(needle));
      assert.deepEqual(
        leaks.map(([where, text]) => `${where}: ${text}`),
        [],
        `found ${needle.slice(0, 12)}…`,
      );
    }
  });
});

/** Every file under `dir` with its text (symbolic links: their targets, which the store wrote too). */
function filesUnder(dir: string): [string, string][] {
  const out: [string, string][] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return;
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    else if (stat.isSymbolicLink()) out.push([path, readlinkSync(path)]);
    else if (stat.isFile()) out.push([path, readFileSync(path, 'utf8')]);
  };
  walk(dir);
  return out;
}
