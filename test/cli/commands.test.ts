import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { cli, runRecord, type StubServer, startStub } from './cli-harness.ts';

const TOKEN = 't1.fake-test-token-not-real-0123456789';
const API_KEY = 'fake-api-key-for-tests-0001';

let stub: StubServer;
let env: Record<string, string>;
before(async () => {
  stub = await startStub();
});
after(async () => {
  await stub.close();
});
beforeEach(() => {
  stub.requests.length = 0;
  env = { DATASPHERE_RUNNER_URL: stub.url };
});

/** Answers a status read with the next record of `sequence` (the last one from then on). */
function statuses(...sequence: Record<string, unknown>[]) {
  let reads = 0;
  return (path: string) => {
    if (!path.startsWith('/runs/')) return undefined;
    const record = sequence[Math.min(reads, sequence.length - 1)];
    reads++;
    return record;
  };
}

describe('datasphere-runner run', () => {
  it('sends the run request to POST /runs with an Idempotency-Key, and prints the run (exit 0)', async () => {
    stub.respond(() => ({ status: 202, body: runRecord() }));
    const result = await cli(
      [
        'run',
        '-p',
        'demo-project',
        '-n',
        'nb.ipynb',
        '--var',
        'A=1',
        '--var',
        'B=x=y',
        '--spec',
        'c1.4',
      ].concat(['--timeout', '2h', '--docker', 'img1', '--concurrency', 'SKIP', '--output', 'OUT']),
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(stub.requests.length, 1);
    const [request] = stub.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.path, '/runs');
    assert.deepEqual(request?.body, {
      projectId: 'demo-project',
      notebookId: 'nb.ipynb',
      inputVariables: { A: '1', B: 'x=y' },
      outputVariableNames: ['OUT'],
      spec: 'c1.4',
      timeoutSeconds: 7200,
      dockerId: 'img1',
      concurrency: 'skip',
    });
    assert.match(String(request?.headers['idempotency-key']), /^cli-[0-9a-f-]{36}$/);
    assert.equal(request?.headers['content-type'], 'application/json');
    assert.match(result.stdout, /run 9c6078ec-0ac9-5caa-8a63-3ba9130a0646 started: RUNNING/);
    assert.match(result.stdout, /follow it: datasphere-runner watch 9c6078ec/);
  });

  it('sends --key as the Idempotency-Key and says when the run had already been started with it', async () => {
    stub.respond(() => ({ status: 202, body: runRecord(), headers: { 'Idempotent-Replayed': 'true' } }));
    const result = await cli(['run', '-p', 'p', '-n', 'nb', '--key', 'nightly-2025-06-01'], { env });
    assert.equal(result.code, 0);
    assert.equal(stub.requests[0]?.headers['idempotency-key'], 'nightly-2025-06-01');
    assert.match(result.stdout, /already started with this key/);
  });

  it('sends the IAM token as a bearer and the API key as X-Api-Key, from options or the environment', async () => {
    stub.respond(() => ({ status: 202, body: runRecord() }));
    await cli(['run', '-p', 'p', '-n', 'nb', '--token', TOKEN, '--api-key', API_KEY], { env });
    assert.equal(stub.requests[0]?.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(stub.requests[0]?.headers['x-api-key'], API_KEY);
    await cli(['run', '-p', 'p', '-n', 'nb'], {
      env: { ...env, YC_IAM_TOKEN: TOKEN, DATASPHERE_RUNNER_API_KEY: API_KEY },
    });
    assert.equal(stub.requests[1]?.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(stub.requests[1]?.headers['x-api-key'], API_KEY);
    await cli(['run', '-p', 'p', '-n', 'nb'], { env });
    assert.equal(stub.requests[2]?.headers.authorization, undefined);
    assert.equal(stub.requests[2]?.headers['x-api-key'], undefined);
  });

  it('never prints a credential, even when the service echoes it back', async () => {
    stub.respond((request) => ({
      status: 401,
      body: {
        error: {
          code: 'UNAUTHENTICATED',
          message: `bad credentials: ${String(request.headers['x-api-key'])} / ${String(request.headers.authorization)}`,
        },
      },
    }));
    const result = await cli(
      ['run', '-p', 'p', '-n', 'nb', '--token', TOKEN, '--api-key', API_KEY, '--json'],
      { env },
    );
    assert.equal(result.code, 2);
    const all = result.stdout + result.stderr;
    assert.ok(!all.includes(TOKEN), all);
    assert.ok(!all.includes(API_KEY), all);
    assert.match(result.stderr, /UNAUTHENTICATED: bad credentials: \[REDACTED\]/);
    assert.match(result.stderr, /hint: send credentials/);
  });

  it('refuses a credential with spaces without sending anything or echoing it', async () => {
    const result = await cli(['run', '-p', 'p', '-n', 'nb', '--token', 'two words'], { env });
    assert.equal(result.code, 2);
    assert.equal(stub.requests.length, 0);
    assert.match(result.stderr, /--token: not a valid credential/);
    assert.ok(!result.stderr.includes('two words'));
  });

  it('--wait follows the run: one plain line per change, exit 0 when it SUCCEEDED', async () => {
    const next = statuses(
      runRecord({ status: 'RUNNING' }),
      runRecord({ status: 'RUNNING' }),
      runRecord({ status: 'SUCCEEDED', executionStatus: 'OK', finishedAt: '2025-06-01T12:00:42.000Z' }),
    );
    stub.respond((request) =>
      request.method === 'POST'
        ? { status: 202, body: runRecord({ status: 'STARTING' }) }
        : { status: 200, body: next(request.path) },
    );
    const result = await cli(['run', '-p', 'p', '-n', 'nb', '--wait', '--interval', '0.1'], { env });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^started run 9c6078ec/);
    // STARTING, RUNNING (twice, one line), SUCCEEDED.
    assert.equal(lines.filter((l) => / run 9c6078ec\S* +\w+/.test(l)).length, 3, result.stdout);
    assert.match(result.stdout, /STARTING/);
    assert.match(result.stdout, /SUCCEEDED {2}elapsed 0:42 {2}checks 3/);
    assert.equal(stub.requests.filter((r) => r.method === 'GET').length, 3);
    assert.ok(!result.stdout.includes('\r'), 'no redrawing in a pipe');
  });

  it('--wait exits 1 when the run FAILED, and shows the error', async () => {
    stub.respond((request) =>
      request.method === 'POST'
        ? { status: 202, body: runRecord() }
        : {
            status: 200,
            body: runRecord({
              status: 'FAILED',
              executionStatus: 'ERROR',
              error: { code: 'EXECUTION_ERROR', message: 'cell 4 raised ValueError' },
            }),
          },
    );
    const result = await cli(['run', '-p', 'p', '-n', 'nb', '--wait'], { env });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAILED/);
    assert.match(result.stdout, /error: EXECUTION_ERROR: cell 4 raised ValueError/);
  });

  it('--wait --json prints one JSON record per change and nothing else', async () => {
    const next = statuses(runRecord({ status: 'RUNNING' }), runRecord({ status: 'TIMED_OUT' }));
    stub.respond((request) =>
      request.method === 'POST'
        ? { status: 202, body: runRecord() }
        : { status: 200, body: next(request.path) },
    );
    const result = await cli(['run', '-p', 'p', '-n', 'nb', '--wait', '--json'], { env });
    assert.equal(result.code, 1);
    const records = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { status: string });
    assert.deepEqual(
      records.map((r) => r.status),
      ['RUNNING', 'TIMED_OUT'],
    );
  });

  it('on a terminal, --wait redraws one live line (spinner, status, elapsed, checks) and ends with a mark', async () => {
    const next = statuses(
      runRecord(),
      runRecord(),
      runRecord({ status: 'SUCCEEDED', finishedAt: '2025-06-01T12:01:05.000Z' }),
    );
    stub.respond((request) =>
      request.method === 'POST'
        ? { status: 202, body: runRecord() }
        : { status: 200, body: next(request.path) },
    );
    const result = await cli(['run', '-p', 'p', '-n', 'nb', '--wait', '--interval', '0.3'], {
      env,
      tty: true,
      columns: 60,
      now: () => new Date('2025-06-01T12:00:30.000Z'),
    });
    assert.equal(result.code, 0);
    assert.ok(result.stdout.includes('\r\u001b[2K'), 'the line is redrawn in place');
    assert.match(result.stdout, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] .*RUNNING.*0:30 · checks \d/);
    assert.match(result.stdout, /✔ .*SUCCEEDED.* {2}1:05 · checks 3\n/);
    for (const line of result.stdout.split(/\r|\n/)) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: measuring visible width without escape codes
      assert.ok(line.replace(/\x1b\[[0-9;]*m|\x1b\[2K/g, '').length < 60, `wider than the terminal: ${line}`);
    }
  });

  it('shows every problem of a refused request and exits 2; --json also prints the error body', async () => {
    const body = {
      error: {
        code: 'INVALID_REQUEST',
        message: 'notebookId: is required',
        errors: [
          { field: 'notebookId', message: 'notebookId: is required' },
          { field: 'timeoutSeconds', message: 'must be between 1 and 604800 (7 days)' },
        ],
      },
    };
    stub.respond(() => ({ status: 400, body }));
    const result = await cli(['run', '-p', 'p', '-n', 'nb', '--json'], { env });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error: INVALID_REQUEST: 2 problems \(HTTP 400\)/);
    // Each problem names the option behind the field.
    assert.match(result.stderr, / {2}- notebookId: is required \(--notebook\)\n/);
    assert.match(
      result.stderr,
      / {2}- timeoutSeconds: must be between 1 and 604800 \(7 days\) \(--timeout\)\n/,
    );
    assert.deepEqual(JSON.parse(result.stdout), body);
    assert.ok(!/\n\s+at /.test(result.stderr), 'no stack trace');
  });

  it('maps the service answers to exit codes: 403 → 2, 409 skip → 1, rejected start → 1, 500 → 3', async () => {
    stub.respond(() => ({
      status: 403,
      body: { error: { code: 'PROJECT_NOT_ALLOWED', message: 'project other is not allowed' } },
    }));
    let result = await cli(['run', '-p', 'other', '-n', 'nb'], { env });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /PROJECT_NOT_ALLOWED: project other is not allowed \(HTTP 403\)/);
    assert.match(result.stderr, /ALLOWED_PROJECTS/);

    stub.respond(() => ({
      status: 409,
      body: { error: { code: 'RUN_ALREADY_RUNNING', message: 'a run is running' }, run: runRecord() },
    }));
    result = await cli(['run', '-p', 'p', '-n', 'nb', '--concurrency', 'skip'], { env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /run 9c6078ec-0ac9-5caa-8a63-3ba9130a0646 is RUNNING/);

    stub.respond(() => ({
      status: 502,
      body: {
        error: { code: 'API_ERROR', message: 'DataSphere refused the start: project not found' },
        run: runRecord({ status: 'FAILED' }),
      },
    }));
    result = await cli(['run', '-p', 'p', '-n', 'nb'], { env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /API_ERROR: DataSphere refused the start/);

    stub.respond(() => ({ status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } }));
    result = await cli(['run', '-p', 'p', '-n', 'nb'], { env });
    assert.equal(result.code, 3);
  });

  it('shows a crashed function (the platform 502) by its message', async () => {
    stub.respond(() => ({
      status: 502,
      body: { errorMessage: 'Cannot read properties of undefined', errorType: 'TypeError' },
    }));
    const result = await cli(['status', 'r1'], { env });
    assert.equal(result.code, 3);
    assert.match(result.stderr, /error: Cannot read properties of undefined \(HTTP 502\)/);
  });

  it('tries a 503 again with the same Idempotency-Key, so a start cannot happen twice', async () => {
    stub.respond((_request, index) =>
      index < 2
        ? {
            status: 503,
            body: { error: { code: 'API_UNREACHABLE', message: 'try again' } },
            headers: { 'Retry-After': '30' },
          }
        : { status: 202, body: runRecord() },
    );
    const result = await cli(['run', '-p', 'p', '-n', 'nb'], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(stub.requests.length, 3);
    const keys = new Set(stub.requests.map((r) => r.headers['idempotency-key']));
    assert.equal(keys.size, 1);
  });

  it('tries a dropped connection again (same key), but not a refused one', async () => {
    let requests = 0;
    const keys: unknown[] = [];
    const flaky = createServer((req, res) => {
      requests++;
      keys.push(req.headers['idempotency-key']);
      req.resume();
      // The first request loses its connection before any answer.
      if (requests === 1) req.socket.destroy();
      else
        req.on('end', () =>
          res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify(runRecord())),
        );
    });
    flaky.listen(0, '127.0.0.1');
    await once(flaky, 'listening');
    try {
      const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
      const result = await cli(['run', '-p', 'p', '-n', 'nb'], { env: { DATASPHERE_RUNNER_URL: url } });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(requests, 2);
      assert.equal(new Set(keys).size, 1);
    } finally {
      flaky.closeAllConnections();
      flaky.close();
    }
  });

  it('exits 3 with one line and a hint when nothing listens at the URL', async () => {
    const gone = await startStub();
    const url = gone.url;
    await gone.close();
    const result = await cli(['status', 'r1'], { env: { DATASPHERE_RUNNER_URL: url } });
    assert.equal(result.code, 3);
    assert.match(result.stderr, new RegExp(`error: cannot reach ${url}: connection refused`));
    assert.match(result.stderr, /npm start/);
  });

  it('checks usage before sending anything: missing options, bad values, unknown options → exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['run', '-p', 'p'], /run needs --notebook N/],
      [['run', '-p', 'p', '-n', 'nb', '--var', 'novalue'], /--var: "novalue" must be NAME=VALUE/],
      [['run', '-p', 'p', '-n', 'nb', '--var', 'A=1', '--var', 'A=2'], /--var: A is given twice/],
      [['run', '-p', 'p', '-n', 'nb', '--timeout', 'soon'], /--timeout: "soon" is not a duration/],
      [
        ['run', '-p', 'p', '-n', 'nb', '--concurency', 'skip'],
        /unknown option --concurency for run \(did you mean --concurrency\?\)/,
      ],
      [
        ['run', '-p', 'p', '-n', 'nb', '--concurrency', 'never'],
        /--concurrency: "never" must be one of allow, skip, queue, replace/,
      ],
      [['run', '-p'], /--project needs a value|-p needs a value/],
      [['run', '-p', 'p', '-n', 'nb', '--wait=yes'], /--wait takes no value/],
      [['status'], /status needs RUN/],
      [['status', 'a', 'b'], /unexpected argument "b" for status/],
      [['list', '--status', 'DONE'], /--status: "DONE" must be one of STARTING, QUEUED, RUNNING/],
      [['list', '--limit', '500'], /--limit: "500" must be a whole number from 1 to 100/],
      [['list', '--since', 'yesterday-ish'], /--since: "yesterday-ish" is not a time/],
      [['status', 'r1', '--url', 'ftp://host'], /must start with http:\/\/ or https:\/\//],
      [
        ['status', 'r1', '--url', 'https://user:pw@host'],
        /put credentials in --token or --api-key, not in the URL/,
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(argv, { env });
      assert.equal(result.code, 2, argv.join(' '));
      assert.match(result.stderr, message, argv.join(' '));
      assert.match(result.stderr, /see: datasphere-runner/);
    }
    assert.equal(stub.requests.length, 0);
  });
});

describe('datasphere-runner open', () => {
  it('sends {"action":"open","projectId":P} and shows the project URL when it ends', async () => {
    stub.respond((request) =>
      request.method === 'POST'
        ? { status: 202, body: runRecord({ action: 'open', notebookId: undefined, status: 'RUNNING' }) }
        : {
            status: 200,
            body: runRecord({
              action: 'open',
              notebookId: undefined,
              status: 'SUCCEEDED',
              result: { projectUrl: 'https://datasphere.yandex.cloud/communities/c/projects/demo-project' },
            }),
          },
    );
    const result = await cli(['open', '--project', 'demo-project', '--wait'], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(stub.requests[0]?.body, { action: 'open', projectId: 'demo-project' });
    assert.match(result.stdout, /projectUrl: https:\/\/datasphere\.yandex\.cloud/);
  });
});

describe('datasphere-runner status / watch / cancel', () => {
  it('status prints the run as labelled lines (exit 0 whatever its status), --json the record', async () => {
    const record = runRecord({
      status: 'FAILED',
      finishedAt: '2025-06-01T12:05:00.000Z',
      error: { code: 13, message: 'boom' },
      job: { name: 'nightly', slot: '2025-06-01T12:00:00.000Z' },
      trigger: 'schedule',
    });
    stub.respond(() => ({ status: 200, body: record }));
    let result = await cli(['status', '9c6078ec-0ac9-5caa-8a63-3ba9130a0646'], { env });
    assert.equal(result.code, 0);
    assert.equal(stub.requests[0]?.path, '/runs/9c6078ec-0ac9-5caa-8a63-3ba9130a0646');
    assert.match(result.stdout, /^run +9c6078ec/m);
    assert.match(result.stdout, /^status +FAILED/m);
    assert.match(result.stdout, /^trigger +schedule \(job nightly/m);
    assert.match(result.stdout, /^finished .* took 5m 00s/m);
    assert.match(result.stdout, /^error +13: boom/m);
    result = await cli(['status', '9c6078ec-0ac9-5caa-8a63-3ba9130a0646', '--json'], { env });
    assert.deepEqual(JSON.parse(result.stdout), record);
  });

  it('status of an unknown run exits 2 with the service code', async () => {
    stub.respond(() => ({ status: 404, body: { error: { code: 'RUN_NOT_FOUND', message: 'no run nope' } } }));
    const result = await cli(['status', 'nope'], { env });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error: RUN_NOT_FOUND: no run nope \(HTTP 404\)/);
  });

  it('encodes the run id in the path', async () => {
    stub.respond(() => ({ status: 404, body: { error: { code: 'RUN_NOT_FOUND', message: 'no' } } }));
    await cli(['status', 'a/b?c'], { env });
    assert.equal(stub.requests[0]?.path, '/runs/a%2Fb%3Fc');
  });

  it('watch rides out a few failed reads, and exits 1 when the run ends CANCELLED', async () => {
    stub.respond((_request, index) => {
      if (index === 0) return { status: 200, body: runRecord() };
      if (index < 3)
        return { status: 503, body: { error: { code: 'LEDGER_ERROR', message: 'ledger busy' } } };
      return {
        status: 200,
        body: runRecord({ status: 'CANCELLED', cancelRequestedAt: '2025-06-01T12:00:05.000Z' }),
      };
    });
    const result = await cli(['watch', '9c6078ec-0ac9-5caa-8a63-3ba9130a0646'], { env });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /CANCELLED/);
  });

  it('watch gives up with exit 3 when the service keeps failing', async () => {
    stub.respond((_request, index) =>
      index === 0
        ? { status: 200, body: runRecord() }
        : { status: 500, body: { error: { code: 'INTERNAL', message: 'x' } } },
    );
    const result = await cli(['watch', 'r1'], { env });
    assert.equal(result.code, 3);
    assert.match(result.stdout, /INTERNAL|still trying/);
  });

  it('Ctrl-C while watching exits 130 and says the run goes on', async () => {
    stub.respond(() => ({ status: 200, body: runRecord() }));
    const result = await cli(['watch', 'r1'], { env, interruptAfterSleeps: 2 });
    assert.equal(result.code, 130);
    assert.match(result.stderr, /stopped waiting; run 9c6078ec\S+ is still RUNNING and goes on/);
    assert.match(result.stderr, /datasphere-runner watch 9c6078ec/);
  });

  it('cancel posts to /runs/{id}/cancel; --wait exits 0 once it is CANCELLED', async () => {
    stub.respond((request) =>
      request.method === 'POST'
        ? { status: 202, body: runRecord({ cancelRequestedAt: '2025-06-01T12:00:05.000Z' }) }
        : {
            status: 200,
            body: runRecord({ status: 'CANCELLED', cancelRequestedAt: '2025-06-01T12:00:05.000Z' }),
          },
    );
    let result = await cli(['cancel', 'r1'], { env });
    assert.equal(result.code, 0);
    assert.equal(stub.requests[0]?.path, '/runs/r1/cancel');
    assert.equal(stub.requests[0]?.method, 'POST');
    assert.match(result.stdout, /cancel requested for run 9c6078ec/);
    result = await cli(['cancel', 'r1', '--wait'], { env });
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /CANCELLED/);
  });

  it('cancel of a run that has already ended changes nothing and exits 0 (202 or 409 RUN_ALREADY_FINISHED)', async () => {
    const ended = runRecord({ status: 'SUCCEEDED', finishedAt: '2025-06-01T12:01:00.000Z' });
    stub.respond(() => ({
      status: 409,
      body: { error: { code: 'RUN_ALREADY_FINISHED', message: 'ended' }, run: ended },
    }));
    let result = await cli(['cancel', 'r1'], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /had already ended: SUCCEEDED; nothing to cancel/);
    stub.respond(() => ({ status: 202, body: ended }));
    result = await cli(['cancel', 'r1'], { env });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /had already ended/);
  });
});

describe('datasphere-runner list', () => {
  const page = (n: number, cursor: string | null) => ({
    runs: Array.from({ length: n }, (_, i) =>
      runRecord({
        runId: `00000000-0000-5000-8000-00000000000${i}`,
        status: i === 0 ? 'FAILED' : 'SUCCEEDED',
        finishedAt: '2025-06-01T12:00:42.000Z',
      }),
    ),
    nextCursor: cursor,
  });

  it('reads GET /runs with the filters as query parameters and prints a table', async () => {
    stub.respond(() => ({ status: 200, body: page(2, null) }));
    const now = new Date('2025-06-02T12:00:00.000Z');
    const result = await cli(
      [
        'list',
        '--status',
        'failed,timed_out',
        '-s',
        'FAILED',
        '--job',
        'nightly',
        '-p',
        'demo',
        '--since',
        '1d',
      ].concat(['--limit', '5', '--trigger', 'SCHEDULE']),
      { env, now: () => now },
    );
    assert.equal(result.code, 0, result.stderr);
    const query = stub.requests[0]?.query;
    assert.equal(stub.requests[0]?.path, '/runs');
    assert.equal(query?.get('status'), 'FAILED,TIMED_OUT');
    assert.equal(query?.get('job'), 'nightly');
    assert.equal(query?.get('projectId'), 'demo');
    assert.equal(query?.get('since'), '2025-06-01T12:00:00.000Z');
    assert.equal(query?.get('limit'), '5');
    assert.equal(query?.get('trigger'), 'schedule');
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^RUN +STATUS +CREATED +TOOK +TRIGGER +PROJECT +NOTEBOOK$/);
    assert.match(lines[1] ?? '', /^00000000-0000-5000-8000-000000000000 {2}FAILED {3}.* {2}42s /);
    assert.equal(lines.length, 3);
  });

  it('says where the next page is, repeating the filters but never a credential', async () => {
    stub.respond(() => ({ status: 200, body: page(1, 'CURSOR-2') }));
    const result = await cli(['list', '--job', 'nightly', '--token', TOKEN, '--cursor', 'CURSOR-1'], { env });
    assert.equal(stub.requests[0]?.query.get('cursor'), 'CURSOR-1');
    assert.match(result.stdout, /more: datasphere-runner list --job nightly --cursor CURSOR-2/);
    assert.ok(!result.stdout.includes(TOKEN));
  });

  it('--all reads every page; --json prints the runs and the last cursor', async () => {
    stub.respond((request) =>
      request.query.get('cursor') === null
        ? { status: 200, body: page(2, 'c2') }
        : request.query.get('cursor') === 'c2'
          ? { status: 200, body: page(2, 'c3') }
          : { status: 200, body: page(1, null) },
    );
    const result = await cli(['list', '--all', '--json'], { env });
    assert.equal(result.code, 0);
    const answer = JSON.parse(result.stdout) as { runs: unknown[]; nextCursor: unknown };
    assert.equal(answer.runs.length, 5);
    assert.equal(answer.nextCursor, null);
    assert.equal(stub.requests.length, 3);
  });

  it('says when there are no runs, and refuses an answer that is not a page (exit 3)', async () => {
    stub.respond(() => ({ status: 200, body: { runs: [], nextCursor: null } }));
    let result = await cli(['list', '--status', 'FAILED'], { env });
    assert.equal(result.stdout, 'no runs match\n');
    stub.respond(() => ({ status: 200, body: { items: [] } }));
    result = await cli(['list'], { env });
    assert.equal(result.code, 3);
    assert.match(result.stderr, /not a page of runs/);
  });

  it('keeps the base path of the URL (an API Gateway stage)', async () => {
    stub.respond(() => ({ status: 200, body: page(0, null) }));
    await cli(['list'], { env: { DATASPHERE_RUNNER_URL: `${stub.url}/stage/` } });
    assert.equal(stub.requests[0]?.path, '/stage/runs');
  });
});

describe('datasphere-runner jobs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-jobs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists each job with its next slots in UTC, from JOBS_FILE or --file', async () => {
    const file = join(dir, 'jobs.yaml');
    writeFileSync(
      file,
      [
        'jobs:',
        '  nightly-train:',
        '    schedule: "0 3 ? * * *"',
        '    run: { projectId: demo-project, notebookId: train.ipynb }',
        '  quarter-hour:',
        '    schedule: "*/15 * ? * * *"',
        '    concurrency: allow',
        '    run: { projectId: demo-project, notebookId: q.ipynb }',
      ].join('\n'),
    );
    const now = () => new Date('2025-06-01T12:07:30.000Z');
    const result = await cli(['jobs', '--next', '2'], { env: { JOBS_FILE: file }, now });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /2 jobs \(times in UTC\)/);
    assert.match(result.stdout, /nightly-train {2}0 3 \? \* \* \* {2}concurrency skip/);
    assert.match(result.stdout, /next {2}2025-06-02 03:00 {2}in 14h 52m/);
    assert.match(result.stdout, /next {2}2025-06-01 12:15 {2}in 7m 30s\n {8}2025-06-01 12:30/);
    const json = await cli(['jobs', '--file', file, '--json', '--next', '1'], { now });
    const parsed = JSON.parse(json.stdout) as { jobs: { name: string; next: string[] }[] };
    assert.deepEqual(
      parsed.jobs.map((j) => [j.name, j.next]),
      [
        ['nightly-train', ['2025-06-02T03:00:00.000Z']],
        ['quarter-hour', ['2025-06-01T12:15:00.000Z']],
      ],
    );
  });

  it('an invalid jobs file is exit 2 naming the job and the problem; a missing named file too', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'jobs:\n  broken:\n    schedule: "0 3 * * * *"\n    run: { projectId: p, notebookId: n }\n',
    );
    let result = await cli(['jobs', '--file', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /jobs\.broken\.schedule: .*one of day-of-month and day-of-week must be "\?"/);
    result = await cli(['jobs', '--file', join(dir, 'missing.yaml')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /cannot read the jobs file/);
  });
});

describe('datasphere-runner help and commands', () => {
  it('every command has --help with its usage and the exit codes (exit 0)', async () => {
    for (const name of ['run', 'open', 'status', 'watch', 'cancel', 'list', 'jobs']) {
      const result = await cli([name, '--help']);
      assert.equal(result.code, 0, name);
      assert.match(result.stdout, new RegExp(`^Usage: datasphere-runner ${name}`), name);
      assert.match(result.stdout, /Exit codes: 0 the run SUCCEEDED/, name);
      const help = await cli(['help', name]);
      assert.equal(help.stdout, result.stdout);
    }
    const partial = await cli(['run', '--project', '--help']);
    assert.equal(partial.code, 0);
  });

  it('no command prints the command list (exit 2); an unknown one suggests the closest', async () => {
    let result = await cli([]);
    assert.equal(result.code, 2);
    assert.match(result.stdout, /Commands:\n {2}run /);
    result = await cli(['lsit']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "lsit" \(did you mean list\?\)/);
    result = await cli(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
