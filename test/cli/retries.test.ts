/**
 * The CLI and retried runs (issue #13 `retry`): the `run` options that ask for retries, checked before
 * anything is sent (every wrong option named at once) and named in the service's own 400 answer; and
 * `run --wait` / `watch` following a run through its attempts to the last one, whose status is the exit
 * code, in every output mode. In process, against the scripted stand-in of the HTTP API (cli-harness).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { errorBody } from '../../shared/triggers/error-response.ts';
import { parseRunRequestInput } from '../../shared/triggers/run-request.ts';
import { cli, type Reply, runRecord, type SeenRequest, type StubServer, startStub } from './cli-harness.ts';

const A1 = '11111111-0ac9-5caa-8a63-3ba9130a0646';
const A2 = '22222222-0ac9-5caa-8a63-3ba9130a0646';
const A3 = '33333333-0ac9-5caa-8a63-3ba9130a0646';
const DUE = '2025-06-01T12:01:20.000Z';
const FAILED = {
  status: 'FAILED',
  executionStatus: 'ERROR',
  error: { code: 'EXECUTION_ERROR', message: 'the notebook run ended with executionStatus ERROR' },
  finishedAt: '2025-06-01T12:00:20.000Z',
};

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

const attempt = (runId: string, n: number, fields: Record<string, unknown> = {}) =>
  runRecord({ runId, attempt: n, ...(n > 1 ? { attempts: [A1, A2].slice(0, n - 1) } : {}), ...fields });

/**
 * Answers the start with attempt 1 RUNNING, then each run's reads from its own script (the last answer
 * repeats); a run without a script is 404 RUN_NOT_FOUND.
 */
function script(runs: Record<string, readonly Reply[]>) {
  const reads = new Map<string, number>();
  return (request: SeenRequest): Reply => {
    if (request.method === 'POST') return { status: 202, body: attempt(A1, 1) };
    const runId = decodeURIComponent(request.path.replace(/^\/runs\//, ''));
    const answers = runs[runId];
    if (answers === undefined || answers.length === 0) {
      return { status: 404, body: { error: { code: 'RUN_NOT_FOUND', message: `no run ${runId}` } } };
    }
    const n = reads.get(runId) ?? 0;
    reads.set(runId, n + 1);
    return answers[Math.min(n, answers.length - 1)] as Reply;
  };
}
const ok = (body: Record<string, unknown>): Reply => ({ status: 200, body });
const notFound: Reply = { status: 404, body: { error: { code: 'RUN_NOT_FOUND', message: 'no such run' } } };

const RUN = ['run', '-p', 'demo-project', '-n', 'nb.ipynb'];
const getPaths = () => stub.requests.filter((r) => r.method === 'GET').map((r) => r.path);

describe('datasphere-runner run: the retry options', () => {
  it('sends --retry N as retry.attempts, with --retry-delay (a duration) and --retry-on (any case, comma list)', async () => {
    stub.respond(() => ({ status: 202, body: attempt(A1, 1) }));
    let result = await cli(
      [...RUN, '--retry', '3', '--retry-delay', '5m', '--retry-on', 'failed,TIMED_OUT'],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    const sent = () => stub.requests.map((request) => request.body as { retry?: unknown });
    assert.deepEqual(sent()[0]?.retry, {
      attempts: 3,
      delaySeconds: 300,
      on: ['FAILED', 'TIMED_OUT'],
    });
    // The service's defaults apply to what is not given; no option, no retry at all.
    result = await cli([...RUN, '--retry', '2', '--retry-on', 'timed_out', '--retry-on', 'FAILED'], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(sent()[1]?.retry, {
      attempts: 2,
      on: ['TIMED_OUT', 'FAILED'],
    });
    result = await cli(RUN, { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sent().length, 3);
    assert.equal(sent()[2]?.retry, undefined);
    // What the CLI sends is a valid run request by the service's own rules.
    for (const body of sent()) assert.doesNotThrow(() => parseRunRequestInput(body));
  });

  it('names every wrong option at once, before sending anything (exit 2)', async () => {
    stub.respond(() => ({ status: 202, body: attempt(A1, 1) }));
    const result = await cli(
      [...RUN, '--retry', 'twice', '--retry-delay', 'soon', '--retry-on', 'FAILED,DONE', '--timeout', '1y'],
      { env },
    );
    assert.equal(result.code, 2);
    assert.equal(stub.requests.length, 0);
    assert.match(result.stderr, /^error: 4 problems with the options:\n/);
    assert.match(result.stderr, /\n {2}- --timeout: "1y" is not a duration/);
    assert.match(result.stderr, /\n {2}- --retry: "twice" must be a whole number\n/);
    assert.match(result.stderr, /\n {2}- --retry-delay: "soon" is not a duration/);
    assert.match(result.stderr, /\n {2}- --retry-on: "DONE" must be one of FAILED, TIMED_OUT\n/);
    assert.match(result.stderr, /see: datasphere-runner run --help/);
  });

  it('refuses --retry-delay or --retry-on without --retry, which would try the run once', async () => {
    const cases: [string[], RegExp][] = [
      [
        [...RUN, '--retry-delay', '30'],
        /^error: --retry-delay needs --retry N \(the number of attempts in all\)\n/,
      ],
      [[...RUN, '--retry-on', 'FAILED'], /^error: --retry-on needs --retry N/],
      [
        [...RUN, '--retry-delay', '30', '--retry-on', 'FAILED'],
        /2 problems with the options:\n {2}- --retry-delay needs --retry N .*\n {2}- --retry-on needs --retry N/,
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(argv, { env });
      assert.equal(result.code, 2, argv.join(' '));
      assert.match(result.stderr, message, argv.join(' '));
    }
    assert.equal(stub.requests.length, 0);
  });

  it('leaves the ranges to the service, and names the option behind each field of its 400 (exit 2)', async () => {
    // The stand-in answers with the service's own rules and error body.
    stub.respond((request) => {
      try {
        parseRunRequestInput(request.body);
        return { status: 202, body: attempt(A1, 1) };
      } catch (error) {
        return { status: 400, body: errorBody(error) };
      }
    });
    const result = await cli(
      [...RUN, '--retry', '11', '--retry-delay', '2d', '--retry-on', 'FAILED,failed'],
      {
        env,
      },
    );
    assert.equal(result.code, 2, result.stderr);
    assert.equal(stub.requests.length, 1);
    assert.match(result.stderr, /error: INVALID_REQUEST: 3 problems \(HTTP 400\)/);
    assert.match(result.stderr, / {2}- retry\.attempts: must be between 1 and 10, got 11 \(--retry\)\n/);
    assert.match(
      result.stderr,
      / {2}- retry\.delaySeconds: must be between 1 and 86400, got 172800 \(--retry-delay\)\n/,
    );
    assert.match(result.stderr, / {2}- retry\.on\.1: repeats "FAILED" \(--retry-on\)\n/);
  });

  it('says in --help what N means and which statuses --retry-on takes', async () => {
    const result = await cli(['run', '--help'], { env });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--retry N +attempts in all, 1\.\.10/);
    assert.match(result.stdout, /--retry-delay S/);
    assert.match(
      result.stdout,
      /--retry-on STATUSES +endings that are retried, comma-separated: FAILED, TIMED_OUT/,
    );
  });
});

describe('following a retried run to its last attempt (run --wait, watch)', () => {
  it('--wait: attempt 1 FAILED with its retry due, then attempt 2 SUCCEEDED: each hop printed, exit 0', async () => {
    stub.respond(
      script({
        [A1]: [
          ok(attempt(A1, 1, { ...FAILED, retryAt: DUE })),
          ok(attempt(A1, 1, { ...FAILED, retryAt: DUE })),
          ok(attempt(A1, 1, { ...FAILED, retriedBy: A2 })),
        ],
        [A2]: [
          ok(attempt(A2, 2, { status: 'RUNNING' })),
          ok(
            attempt(A2, 2, {
              status: 'SUCCEEDED',
              executionStatus: 'OK',
              finishedAt: '2025-06-01T12:02:00.000Z',
            }),
          ),
        ],
      }),
    );
    const result = await cli([...RUN, '--retry', '2', '--retry-delay', '60', '--wait', '--interval', '0.1'], {
      env,
      now: () => new Date('2025-06-01T12:00:22.000Z'),
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    const failed = at(new RegExp(`run ${A1} +FAILED`));
    const due = at(/^ {2}attempt 2 is due at \d{2}:\d{2}:\d{2} \(in 58s\)$/);
    const hop = at(
      new RegExp(
        `^\\d{2}:\\d{2}:\\d{2} {2}attempt 1 FAILED \\(EXECUTION_ERROR: the notebook run ended with executionStatus ERROR\\); attempt 2 is run ${A2}$`,
      ),
    );
    const running = at(new RegExp(`run ${A2} +RUNNING`));
    const succeeded = at(new RegExp(`run ${A2} +SUCCEEDED`));
    assert.ok(failed > 0 && failed < due && due < hop && hop < running && running < succeeded, result.stdout);
    assert.equal(lines.filter((line) => line.includes('is due at')).length, 1, 'one line while it waits');
    assert.deepEqual(getPaths(), [`/runs/${A1}`, `/runs/${A1}`, `/runs/${A1}`, `/runs/${A2}`, `/runs/${A2}`]);
  });

  it('--wait: every attempt fails: each hop printed, exit 1 by the last attempt', async () => {
    stub.respond(
      script({
        [A1]: [ok(attempt(A1, 1, { ...FAILED, retriedBy: A2 }))],
        [A2]: [ok(attempt(A2, 2, { ...FAILED, retriedBy: A3 }))],
        [A3]: [
          ok(attempt(A3, 3, { status: 'RUNNING' })),
          ok(
            attempt(A3, 3, {
              status: 'TIMED_OUT',
              error: { code: 'DEADLINE_EXCEEDED', message: 'past its deadline' },
            }),
          ),
        ],
      }),
    );
    const result = await cli([...RUN, '--retry', '3', '--wait'], { env });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`attempt 1 FAILED \\(EXECUTION_ERROR: .*\\); attempt 2 is run ${A2}\\n`),
    );
    assert.match(
      result.stdout,
      new RegExp(`attempt 2 FAILED \\(EXECUTION_ERROR: .*\\); attempt 3 is run ${A3}\\n`),
    );
    assert.match(result.stdout, new RegExp(`run ${A3} +TIMED_OUT`));
    assert.match(result.stdout, /error: DEADLINE_EXCEEDED: past its deadline\n$/);
  });

  it('a retry stopped while it was due (a cancel): the attempt is the outcome, exit 1', async () => {
    stub.respond(
      script({
        [A1]: [
          ok(attempt(A1, 1, { ...FAILED, retryAt: DUE })),
          ok(
            attempt(A1, 1, {
              ...FAILED,
              cancelRequestedAt: '2025-06-01T12:00:40.000Z',
              cancelReason: 'user',
            }),
          ),
        ],
      }),
    );
    const result = await cli(['watch', A1], { env });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /attempt 2 is due at/);
    assert.match(
      result.stdout,
      new RegExp(
        `\\d\\d:\\d\\d:\\d\\d {2}run ${A1}: attempt 2 will not start: the retry was stopped \\(user\\)\\n$`,
      ),
    );
    // The attempt's status and error were shown once, with the retry due.
    assert.equal(result.stdout.match(/FAILED/g)?.length, 1, result.stdout);
    assert.doesNotMatch(result.stdout, /attempt 2 is run/);
    // The first read (watch), then one that finds the retry stopped.
    assert.deepEqual(getPaths(), [`/runs/${A1}`, `/runs/${A1}`]);
  });

  it('--json: one record per change, the hop included, and nothing else', async () => {
    stub.respond(
      script({
        [A1]: [
          ok(attempt(A1, 1, { ...FAILED, retryAt: DUE })),
          ok(attempt(A1, 1, { ...FAILED, retryAt: DUE })),
          ok(attempt(A1, 1, { ...FAILED, retriedBy: A2 })),
        ],
        [A2]: [ok(attempt(A2, 2)), ok(attempt(A2, 2)), ok(attempt(A2, 2, { status: 'SUCCEEDED' }))],
      }),
    );
    const result = await cli([...RUN, '--retry', '2', '--wait', '--json'], { env });
    assert.equal(result.code, 0, result.stderr);
    const records = result.stdout
      .trim()
      .split('\n')
      .map(
        (line) => JSON.parse(line) as { runId: string; status: string; retryAt?: string; retriedBy?: string },
      );
    assert.deepEqual(
      records.map((r) => [r.runId.slice(0, 8), r.status, r.retryAt ?? r.retriedBy ?? '']),
      [
        ['11111111', 'RUNNING', ''],
        ['11111111', 'FAILED', DUE],
        ['11111111', 'FAILED', A2],
        ['22222222', 'RUNNING', ''],
        ['22222222', 'SUCCEEDED', ''],
      ],
    );
  });

  it('watch of an attempt already retried goes to the next one, waiting while it cannot be read yet', async () => {
    stub.respond(
      script({
        [A1]: [ok(attempt(A1, 1, { ...FAILED, retriedBy: A2 }))],
        [A2]: [notFound, notFound, ok(attempt(A2, 2)), ok(attempt(A2, 2, { status: 'SUCCEEDED' }))],
      }),
    );
    const result = await cli(['watch', A1], { env });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`attempt 2 is run ${A2}`));
    assert.equal(result.stdout.match(/cannot be read yet; still trying/g)?.length, 1, result.stdout);
    assert.match(result.stdout, new RegExp(`run ${A2} +SUCCEEDED`));
  });

  it('gives up (exit 2) when the next attempt stays unknown past the allowance', async () => {
    stub.respond(script({ [A1]: [ok(attempt(A1, 1, { ...FAILED, retriedBy: A2 }))], [A2]: [notFound] }));
    const result = await cli(['watch', A1, '--interval', '100'], { env });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /RUN_NOT_FOUND/);
    // 300 s at 100 s a read: the allowance is the failure limit (10 reads), not fewer.
    assert.equal(getPaths().filter((path) => path === `/runs/${A2}`).length, 10);
  });

  it('Ctrl-C while the retry is due says when it comes, and exits 130', async () => {
    stub.respond(script({ [A1]: [ok(attempt(A1, 1, { ...FAILED, retryAt: DUE }))] }));
    const result = await cli(['watch', A1], { env, interruptAfterSleeps: 3 });
    assert.equal(result.code, 130);
    assert.match(
      result.stderr,
      new RegExp(`stopped waiting; run ${A1} ended FAILED; its attempt 2 is due at .* and goes on`),
    );
    assert.match(result.stderr, new RegExp(`follow it again: datasphere-runner watch ${A1}`));
  });

  it('on a terminal: the attempt ends with its mark and error, the wait and the hop are lines, the last ends ✔', async () => {
    stub.respond(
      script({
        [A1]: [
          ok(attempt(A1, 1, { ...FAILED, retryAt: DUE })),
          ok(attempt(A1, 1, { ...FAILED, retriedBy: A2 })),
        ],
        [A2]: [ok(attempt(A2, 2, { status: 'SUCCEEDED', finishedAt: '2025-06-01T12:01:40.000Z' }))],
      }),
    );
    const result = await cli([...RUN, '--retry', '2', '--wait', '--interval', '0.3'], {
      env,
      tty: true,
      columns: 100,
      now: () => new Date('2025-06-01T12:00:50.000Z'),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /✖ .*FAILED.* {2}0:20 · checks \d\n {2}error: EXECUTION_ERROR/);
    assert.match(result.stdout, /↻ attempt 2 is due at \d{2}:\d{2}:\d{2} \(in 30s\)\n/);
    assert.match(result.stdout, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting for attempt 2 · due in 30s/);
    assert.match(
      result.stdout,
      new RegExp(`attempt 1 FAILED \\(EXECUTION_ERROR: .*\\); attempt 2 is run .*${A2}`),
    );
    assert.match(result.stdout, /✔ .*SUCCEEDED.* {2}1:40 · checks \d\n$/);
  });
});

describe('status, list and cancel of retried runs', () => {
  it('status shows the attempt, the run before it, and what follows: a retry due or the next attempt', async () => {
    stub.respond(() => ok(attempt(A2, 2, { ...FAILED, retryAt: DUE })));
    let result = await cli(['status', A2], { env, now: () => new Date('2025-06-01T12:00:50.000Z') });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^attempt +2 {2}after run ${A1}$`, 'm'));
    assert.match(result.stdout, /^retry +attempt 3 due \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 30s\)$/m);
    stub.respond(() => ok(attempt(A1, 1, { ...FAILED, retriedBy: A2 })));
    result = await cli(['status', A1], { env });
    assert.match(result.stdout, /^attempt +1$/m);
    assert.match(result.stdout, new RegExp(`^next +attempt 2 is run ${A2}$`, 'm'));
    assert.doesNotMatch(result.stdout, /^retry /m);
  });

  it('list adds an ATTEMPT column when the page has retried runs, and only then', async () => {
    stub.respond(() => ({
      status: 200,
      body: {
        runs: [
          attempt(A2, 2, { status: 'RUNNING' }),
          attempt(A1, 1, { ...FAILED, retriedBy: A2 }),
          attempt(A3, 1, { ...FAILED, retryAt: DUE }),
          runRecord({ runId: 'plain-run', status: 'SUCCEEDED' }),
        ],
        nextCursor: null,
      },
    }));
    let result = await cli(['list'], { env });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^RUN +STATUS +ATTEMPT +CREATED /);
    assert.match(lines[1] ?? '', new RegExp(`^${A2} +RUNNING +2 +2025`));
    assert.match(lines[2] ?? '', new RegExp(`^${A1} +FAILED +1 \\(retried\\) +2025`));
    assert.match(lines[3] ?? '', new RegExp(`^${A3} +FAILED +1 \\(retry \\d\\d:\\d\\d:\\d\\d\\) +2025`));
    stub.respond(() => ({ status: 200, body: { runs: [runRecord()], nextCursor: null } }));
    result = await cli(['list'], { env });
    assert.match(result.stdout, /^RUN +STATUS +CREATED /);
  });

  it('cancel of an attempt whose retry was due says the next attempt will not start (exit 0)', async () => {
    stub.respond(() => ({
      status: 202,
      body: attempt(A1, 1, {
        ...FAILED,
        cancelRequestedAt: '2025-06-01T12:00:40.000Z',
        cancelReason: 'user',
      }),
    }));
    const result = await cli(['cancel', A1], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`run ${A1} had ended FAILED; its next attempt will not start`));
  });
});
