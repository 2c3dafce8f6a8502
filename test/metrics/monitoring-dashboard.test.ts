/**
 * The shipped dashboard and alert definitions (deploy/monitoring/) against what the sweep writes, and
 * the script that applies them, against a local fake of the Monitoring v3 REST methods.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyMonitoring, loadDefinition } from '../../deploy/monitoring/apply-monitoring.ts';
import { METRIC } from '../../shared/metrics/monitoring-payload.ts';

const FOLDER = 'b1gdashfolder0000001';
const TOKEN = 't1.dashboard-test-token-0123456789';
const NAMES = new Set<string>(Object.values(METRIC));
const ROOT = join(import.meta.dirname, '../..');

// biome-ignore lint/suspicious/noExplicitAny: decoded JSON, checked field by field.
type Json = any;

/** Metric names and label selectors of a query like `"runs.ended"{folderId="…", status="A|B"}`. */
function selectors(query: string): { name: string; labels: Record<string, string> }[] {
  return [...query.matchAll(/"([^"]+)"\{([^}]*)\}/g)].map((match) => ({
    name: match[1] as string,
    labels: Object.fromEntries(
      [...(match[2] as string).matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]]),
    ),
  }));
}

describe('deploy/monitoring definitions', () => {
  const dashboard = loadDefinition('dashboard.json', FOLDER);
  const charts = (dashboard.widgets as Json[]).filter((widget) => widget.chart !== undefined);

  it('the dashboard is a valid v3 Create body: name, widget positions, one kind per widget, downsampling', () => {
    assert.match(String(dashboard.name), /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    assert.ok(String(dashboard.description).length <= 256);
    for (const widget of dashboard.widgets as Json[]) {
      for (const key of ['x', 'y', 'w', 'h'])
        assert.match(widget.position[key], /^\d+$/, `int64 as string: ${key}`);
      const kinds = ['text', 'title', 'chart'].filter((kind) => widget[kind] !== undefined);
      assert.equal(kinds.length, 1, 'exactly one of text, title, chart');
    }
    const ids = charts.map((widget) => widget.chart.id);
    assert.equal(new Set(ids).size, ids.length, 'chart ids are unique');
    for (const { chart } of charts) {
      assert.ok(chart.queries.targets.length > 0);
      assert.ok(chart.queries.downsampling, 'downsampling is required');
    }
    assert.ok(!JSON.stringify(dashboard).includes('@FOLDER_ID@'), 'the folder is filled in');
  });

  it('every chart query selects a metric the sweep writes, in this folder, service=custom, app label', () => {
    const shown = new Set<string>();
    for (const { chart } of charts) {
      for (const target of chart.queries.targets) {
        const found = selectors(target.query);
        assert.ok(found.length > 0, target.query);
        for (const { name, labels } of found) {
          assert.ok(NAMES.has(name), `${name} is written by the sweep`);
          assert.equal(labels.folderId, FOLDER);
          assert.equal(labels.service, 'custom');
          assert.equal(labels.app, 'datasphere-runner');
          shown.add(name);
        }
      }
    }
    assert.deepEqual(
      [...NAMES].filter((name) => !shown.has(name)),
      [],
      'every metric is on the dashboard',
    );
  });

  it('the alerts select the written metrics and statuses', () => {
    const { alerts } = loadDefinition('alerts.json', FOLDER) as { alerts: Json[] };
    assert.deepEqual(
      alerts.map((entry) => entry.alert.name),
      ['datasphere-runner-run-failed', 'datasphere-runner-no-sweep'],
    );
    const [failed, noSweep] = alerts.map((entry) => selectors(entry.alert.threshold.selectors)[0]);
    assert.equal(failed?.name, METRIC.runsEnded);
    assert.deepEqual(failed?.labels.status?.split('|'), ['FAILED', 'TIMED_OUT']);
    assert.equal(noSweep?.name, METRIC.sweepCompleted);
    assert.ok(alerts[1].notifyAboutStatuses.includes('EVALUATION_STATUS_NO_DATA'), 'no data = no sweep');
    for (const entry of alerts) {
      assert.match(entry.alert.name, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
      assert.equal(entry.alert.window, '300s');
    }
  });
});

interface FakeV3 {
  readonly url: string;
  readonly requests: { method: string; path: string; body: Json; authorization: string | undefined }[];
  readonly dashboards: Map<string, Json>;
  readonly alerts: Map<string, Json>;
  alertsStatus: number;
  close(): Promise<void>;
}

/** The dashboards and alerts methods of Monitoring v3, in memory, with etags. */
async function startFakeV3(): Promise<FakeV3> {
  const requests: FakeV3['requests'] = [];
  const dashboards = new Map<string, Json>();
  const alerts = new Map<string, Json>();
  const state = { alertsStatus: 200 };
  let ids = 0;
  const send = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const operation = (response: Json) => ({
    id: `op${++ids}`,
    description: 'Operation synchronous',
    done: true,
    response,
  });
  const handle = (req: IncomingMessage, res: ServerResponse, text: string) => {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const body = text === '' ? undefined : JSON.parse(text);
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      body,
      authorization: req.headers.authorization,
    });
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(res, 401, { code: 16, message: 'no token' });
    const nameFilter = /^name="(.+)"$/.exec(url.searchParams.get('filter') ?? '')?.[1];
    if (url.pathname === '/monitoring/v3/dashboards' && req.method === 'GET') {
      if (url.searchParams.get('folderId') !== FOLDER)
        return send(res, 400, { code: 3, message: 'folderId' });
      return send(res, 200, { dashboards: [...dashboards.values()].filter((d) => d.name === nameFilter) });
    }
    if (url.pathname === '/monitoring/v3/dashboards' && req.method === 'POST') {
      if (body.folderId !== FOLDER || !Array.isArray(body.widgets))
        return send(res, 400, { code: 3, message: 'bad' });
      const dashboard = { ...body, id: `dash${++ids}`, etag: '0' };
      dashboards.set(dashboard.id, dashboard);
      return send(res, 200, operation(dashboard));
    }
    const patch = /^\/monitoring\/v3\/dashboards\/([^/]+)$/.exec(url.pathname);
    if (patch !== null && req.method === 'PATCH') {
      const current = dashboards.get(patch[1] as string);
      if (current === undefined) return send(res, 404, { code: 5, message: 'not found' });
      if (body.etag !== current.etag) {
        return send(res, 200, {
          done: true,
          error: { code: 6, message: `etag '${body.etag}' is out of date` },
        });
      }
      const updated = { ...current, ...body, etag: String(Number(current.etag) + 1) };
      dashboards.set(current.id, updated);
      return send(res, 200, operation(updated));
    }
    if (url.pathname === '/monitoring/v3/alerts') {
      if (state.alertsStatus !== 200)
        return send(res, state.alertsStatus, { code: 12, message: 'unimplemented' });
      if (req.method === 'GET') {
        return send(res, 200, { alerts: [...alerts.values()].filter((a) => a.name === nameFilter) });
      }
      const alert = { ...body, id: `alert${++ids}` };
      alerts.set(alert.id, alert);
      return send(res, 200, operation(alert));
    }
    return send(res, 404, { code: 5, message: 'no such route' });
  };
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    req.on('end', () => handle(req, res, text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.defineProperties(
    { url: `http://127.0.0.1:${port}`, requests, dashboards, alerts } as FakeV3,
    {
      alertsStatus: { get: () => state.alertsStatus, set: (v) => (state.alertsStatus = v) },
      close: {
        value: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      },
    },
  );
}

describe('applyMonitoring', () => {
  let fake: FakeV3;
  before(async () => {
    fake = await startFakeV3();
  });
  after(async () => {
    await fake.close();
  });

  it('creates the dashboard, leaves it alone while current, replaces it with its etag when forced; alerts are created once', async () => {
    const lines: string[] = [];
    const options = {
      folderId: FOLDER,
      token: TOKEN,
      endpoint: fake.url,
      alertsChannelId: 'chan1',
      say: (line: string) => lines.push(line),
    };
    const first = await applyMonitoring(options);
    assert.equal(first.dashboard.action, 'created');
    assert.deepEqual(
      first.alerts.map((a) => a.action),
      ['created', 'created'],
    );
    assert.equal(fake.dashboards.size, 1);
    const [stored] = fake.dashboards.values();
    assert.equal(stored.folderId, FOLDER);
    assert.ok(!JSON.stringify(stored).includes('@FOLDER_ID@'));
    const [alert] = fake.alerts.values();
    assert.deepEqual(alert.channels, [
      {
        channelId: 'chan1',
        notifyAboutStatuses: ['EVALUATION_STATUS_ALARM', 'EVALUATION_STATUS_OK'],
        repeatPeriod: '0s',
      },
    ]);
    assert.equal(alert.folderId, FOLDER);

    assert.match(stored.labels['definition-sha256'], /^[0-9a-f]{32}$/);
    assert.equal(stored.labels.app, 'datasphere-runner');

    const from = fake.requests.length;
    const second = await applyMonitoring(options);
    assert.equal(second.dashboard.action, 'unchanged');
    assert.equal(second.dashboard.id, stored.id);
    assert.deepEqual(
      second.alerts.map((a) => a.action),
      ['exists', 'exists'],
    );
    assert.deepEqual(
      fake.requests.slice(from).map((r) => r.method),
      ['GET', 'GET', 'GET'],
      'a second run only reads',
    );

    const forced = await applyMonitoring({ ...options, force: true });
    assert.equal(forced.dashboard.action, 'updated');
    assert.equal(forced.dashboard.id, stored.id);
    assert.equal(fake.dashboards.size, 1, 'no second dashboard');
    assert.equal([...fake.dashboards.values()][0].etag, '1');
    assert.equal(fake.alerts.size, 2);
    assert.ok(lines.some((line) => line.startsWith('updated dashboard "datasphere-runner"')));
  });

  it('an alerts API that answers 404/501 is reported, not fatal', async () => {
    fake.alertsStatus = 501;
    try {
      const result = await applyMonitoring({
        folderId: FOLDER,
        token: TOKEN,
        endpoint: fake.url,
        alertsChannelId: 'chan1',
        say: () => {},
      });
      assert.deepEqual(
        result.alerts.map((a) => a.action),
        ['refused', 'refused'],
      );
    } finally {
      fake.alertsStatus = 200;
    }
  });

  it('a refused call fails with the API message and never the token', async () => {
    await assert.rejects(
      applyMonitoring({ folderId: FOLDER, token: 't1.wrong-token-000', endpoint: fake.url, say: () => {} }),
      (error: Error) => {
        assert.match(error.message, /GET \S*\/monitoring\/v3\/dashboards: HTTP 401: no token/);
        assert.ok(!error.message.includes('t1.wrong-token-000'));
        return true;
      },
    );
  });

  it('the command line: --dry-run sends nothing; no folder is a usage error', () => {
    const run = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'deploy/monitoring/apply-monitoring.ts', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, YC_FOLDER_ID: '', YC_IAM_TOKEN: '', PATH: '/nonexistent', ...env },
      });
    const dry = run(['--folder', FOLDER, '--dry-run', '--alerts', '--channel', 'chan1']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /would create or update dashboard "datasphere-runner" \(\d+ widgets\)/);
    assert.match(dry.stdout, /would create alert "datasphere-runner-no-sweep"/);
    const usage = run([]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /no folder/);
  });
});
