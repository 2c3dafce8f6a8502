/**
 * The check handler's timer with metrics, in process on MockAgent: a sweep that fails still writes (with
 * sweep.completed 0) and still fails the invocation as before; a sweep with metrics off sends nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { createHandler } from '../../functions/check/handler.ts';
import { timerEvent } from '../../local/cloud-events.ts';
import { createFunctionRuntime } from '../../shared/function-runtime.ts';
import { METRIC } from '../../shared/metrics/monitoring-payload.ts';
import { createMonitoringSink } from '../../shared/metrics/monitoring-writer.ts';
import { pointValue } from './fake-monitoring.ts';

const MONITORING = 'https://monitoring.test.invalid';
const TOKEN = 't1.handler-metrics-test-token-0123456789abcdef';

let dir: string;
let agent: MockAgent;
let lines: Record<string, unknown>[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ds-metrics-handler-'));
  agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  lines = [];
});
afterEach(async () => {
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

function handler(env: Record<string, string>) {
  const runtime = createFunctionRuntime(
    { YC_IAM_TOKEN: TOKEN, ALLOWED_PROJECTS: '*', LOG_LEVEL: 'debug', ...env },
    {
      notify: true,
      metrics: createMonitoringSink,
      dispatcher: agent,
      write: (line) => lines.push(JSON.parse(line)),
    },
  );
  return createHandler(runtime);
}

const writes = () =>
  (agent.getCallHistory()?.calls() ?? []).filter((call) => call.path === '/monitoring/v2/data/write');

describe('check handler with metrics', () => {
  it('a sweep that fails still writes its figures (sweep.completed 0) and still throws', async () => {
    // A file where the ledger wants a directory: the sweep's first ledger read fails.
    const blocked = join(dir, 'not-a-dir');
    writeFileSync(blocked, 'x');
    agent
      .get(MONITORING)
      .intercept({ path: /^\/monitoring\/v2\/data\/write\?/, method: 'POST' })
      .reply(200, { writtenMetricsCount: '5' }, { headers: { 'content-type': 'application/json' } });
    const check = handler({
      RUN_STORE: `file:${blocked}`,
      METRICS_FOLDER_ID: 'b1ghandler',
      MONITORING_ENDPOINT: MONITORING,
    });
    await assert.rejects(check(timerEvent(), {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'LEDGER_ERROR');
      return true;
    });
    assert.equal(writes().length, 1, 'one write for the failed sweep');
    const body = JSON.parse(String(writes()[0]?.body));
    assert.equal(pointValue(body, METRIC.sweepCompleted), 0);
    assert.equal(pointValue(body, METRIC.sweepDueRuns), 0);
    assert.equal(lines.filter((line) => line.msg === 'sweep failed').length, 1);
    agent.assertNoPendingInterceptors();
  });

  it('with metrics off a sweep sends nothing', async () => {
    const check = handler({ RUN_STORE: `file:${join(dir, 'runs')}`, MONITORING_ENDPOINT: MONITORING });
    const summary = (await check(timerEvent(), {})) as { due: number };
    assert.equal(summary.due, 0);
    assert.equal(agent.getCallHistory()?.calls().length ?? 0, 0, 'no request at all');
  });

  it('a bad METRICS_FOLDER_ID fails every invocation with a CONFIG_ERROR naming it', async () => {
    const check = handler({ RUN_STORE: `file:${join(dir, 'runs')}`, METRICS_FOLDER_ID: 'not a folder' });
    await assert.rejects(check(timerEvent(), {}), /METRICS_FOLDER_ID/);
    assert.equal(agent.getCallHistory()?.calls().length ?? 0, 0);
  });
});
