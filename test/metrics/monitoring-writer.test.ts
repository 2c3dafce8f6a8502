import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { staticTokenSource, type TokenSource } from '../../shared/api/token-source.ts';
import { RunnerError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { sweepPayload } from '../../shared/metrics/monitoring-payload.ts';
import { createMonitoringSink, type MetricsSinkParts } from '../../shared/metrics/monitoring-writer.ts';
import type { SweepFigures } from '../../shared/metrics/sweep-figures.ts';
import { writeProblems } from './fake-monitoring.ts';

const ORIGIN = 'https://monitoring.api.cloud.yandex.net';
const TOKEN = 't1.metrics-test-token-abcdefghijklmnopqrstuvwxyz.0123456789';
const FOLDER = 'b1gtestfolder0000001';
const JSON_HEADERS = { headers: { 'content-type': 'application/json' } };
const WRITE = `/monitoring/v2/data/write?folderId=${FOLDER}&service=custom`;

function figures(extra: Partial<SweepFigures> = {}): SweepFigures {
  return {
    at: new Date('2026-06-01T10:00:07.250Z'),
    completed: true,
    durationMs: 1234,
    dueRuns: 3,
    checkedRuns: 3,
    uncheckedRuns: 0,
    open: { RUNNING: 2 },
    started: 1,
    ended: { SUCCEEDED: 1 },
    durationsSeconds: [42.5],
    apiCalls: new Map([['operations.get', 3]]),
    apiErrors: new Map([['operations.get', new Map([['UNAVAILABLE', 1]])]]),
    notifications: new Map([['webhook', { delivered: 1, failed: 0 }]]),
    ...extra,
  };
}

let agent: MockAgent;
let lines: Record<string, unknown>[];

beforeEach(() => {
  agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  lines = [];
});
afterEach(async () => {
  await agent.close();
});

function sink(extra: Partial<MetricsSinkParts> & { endpoint?: string; timeoutMs?: number } = {}) {
  return createMonitoringSink({
    config: { folderId: FOLDER, endpoint: extra.endpoint ?? ORIGIN, timeoutMs: extra.timeoutMs ?? 2000 },
    dispatcher: agent,
    token: extra.token ?? staticTokenSource(TOKEN),
    log: createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) }),
  });
}

const calls = () => agent.getCallHistory()?.calls() ?? [];
const logged = (msg: string) => lines.filter((line) => line.msg === msg);

describe('createMonitoringSink', () => {
  it('writes one POST to data/write with the folder, service=custom, the bearer token and the payload', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: WRITE, method: 'POST' })
      .reply(200, { writtenMetricsCount: '24' }, JSON_HEADERS);
    const outcome = await sink().write(figures());
    assert.equal(outcome.ok, true);
    const [call] = calls();
    assert.equal(calls().length, 1);
    assert.equal(call?.method, 'POST');
    assert.equal(call?.fullUrl, `${ORIGIN}${WRITE}`);
    const headers = call?.headers as Record<string, string>;
    assert.equal(headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(headers['content-type'], 'application/json');
    const body = JSON.parse(String(call?.body));
    assert.deepEqual(body, JSON.parse(JSON.stringify(sweepPayload(figures()))));
    assert.deepEqual(
      writeProblems({ query: new URL(`${ORIGIN}${WRITE}`).searchParams, headers, body }),
      [],
      'the payload passes the reference checks',
    );
    assert.equal(outcome.metrics, body.metrics.length);
    assert.equal(logged('metrics written').length, 1);
    agent.assertNoPendingInterceptors();
  });

  it('keeps a path prefix of MONITORING_ENDPOINT and escapes the folder id', async () => {
    const folder = 'b1g_a-b';
    agent
      .get('http://127.0.0.1:9')
      .intercept({
        path: `/proxy/monitoring/v2/data/write?folderId=${folder}&service=custom`,
        method: 'POST',
      })
      .reply(200, {}, JSON_HEADERS);
    const s = createMonitoringSink({
      config: { folderId: folder, endpoint: 'http://127.0.0.1:9/proxy', timeoutMs: 500 },
      dispatcher: agent,
      token: staticTokenSource(TOKEN),
      log: createLogger({ write: () => {} }),
    });
    assert.equal((await s.write(figures())).ok, true);
    agent.assertNoPendingInterceptors();
  });

  for (const [status, body] of [
    [400, { code: 3, message: 'metrics[0].labels: invalid label name', details: [] }],
    [403, { code: 7, message: 'Permission denied', details: [] }],
    [503, { code: 14, message: 'unavailable', details: [] }],
  ] as const) {
    it(`answers ${status}: logged and returned, never thrown, never retried`, async () => {
      agent.get(ORIGIN).intercept({ path: WRITE, method: 'POST' }).reply(status, body, JSON_HEADERS);
      const outcome = await sink().write(figures());
      assert.equal(outcome.ok, false);
      assert.equal(calls().length, 1, 'one attempt only');
      if (!outcome.ok) {
        assert.equal(outcome.httpStatus, status);
        assert.equal(outcome.reason, `answered HTTP ${status} (code ${body.code}): ${body.message}`);
      }
      const [warn] = logged('metrics write failed; the sweep goes on');
      assert.equal(warn?.level, 'WARN');
      assert.equal(warn?.httpStatus, status);
      assert.equal(warn?.folderId, FOLDER);
    });
  }

  it('a non-JSON error page is quoted short and scrubbed of tokens', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: WRITE, method: 'POST' })
      .reply(502, `<html>bad gateway for Bearer ${TOKEN}</html>`);
    const outcome = await sink().write(figures());
    assert.equal(outcome.ok, false);
    assert.ok(!JSON.stringify(lines).includes(TOKEN), 'the token never reaches a log line');
    assert.ok(!JSON.stringify(outcome).includes(TOKEN));
  });

  it('gives up after timeoutMs when Monitoring does not answer', async () => {
    agent.get(ORIGIN).intercept({ path: WRITE, method: 'POST' }).reply(200, {}, JSON_HEADERS).delay(5_000);
    const outcome = await sink({ timeoutMs: 150 }).write(figures());
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.equal(outcome.reason, 'no answer within 150 ms');
  });

  it('a connection error is logged with its code', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: WRITE, method: 'POST' })
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const outcome = await sink().write(figures());
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.match(outcome.reason, /connection failed \(ECONNREFUSED\)/);
  });

  it('without a token nothing is sent', async () => {
    const token: TokenSource = {
      getToken: async () => {
        throw new RunnerError('AUTH_UNAVAILABLE', 'No IAM token: metadata service failed');
      },
    };
    const outcome = await sink({ token }).write(figures());
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.match(outcome.reason, /^no IAM token: No IAM token/);
    assert.equal(calls().length, 0);
  });

  it('a token source that hangs is bounded by timeoutMs too', async () => {
    const token: TokenSource = { getToken: () => new Promise(() => {}) };
    const outcome = await sink({ token, timeoutMs: 100 }).write(figures());
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.equal(outcome.reason, 'no IAM token within 100 ms');
    assert.equal(calls().length, 0);
  });

  it('a 200 with an errorMessage or fewer metrics written is logged as a partial failure', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: WRITE, method: 'POST' })
      .reply(200, { writtenMetricsCount: '3', errorMessage: 'quota exceeded' }, JSON_HEADERS);
    const outcome = await sink().write(figures());
    assert.equal(outcome.ok, true);
    if (outcome.ok) assert.equal(outcome.written, 3);
    const [warn] = logged('metrics write partly failed');
    assert.equal(warn?.written, 3);
    assert.equal(warn?.reason, 'quota exceeded');
  });

  it('reads the count the how-to example shows (metrics_written) as well', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: WRITE, method: 'POST' })
      .reply(200, { metrics_written: '1' }, JSON_HEADERS);
    const outcome = await sink().write(figures());
    assert.equal(outcome.ok, true);
    if (outcome.ok) assert.equal(outcome.written, 1);
  });
});
