/**
 * The CLI as a user runs it, against `npm start` as a user starts it: both are real child processes
 * (npm start → the emulator, the three built functions in their own processes, timers and queues;
 * the CLI through its `bin` launcher). Free ports only (`--port 0`), a private state dir, short runs.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Finished, root, runChild, type StartedChild as Started, startChild } from './child-process.ts';

const BIN = join(root, 'cli', 'datasphere-runner.mjs');
const PROJECT = 'e2e-project';

/** Runs the CLI as a child process (never blocking this process: npm start's output keeps flowing). */
const runCli = (args: readonly string[], env: Record<string, string> = {}): Promise<Finished> =>
  runChild(process.execPath, [BIN, ...args], env);

/** The CLI as a child process that goes on while the test does other things (a waiting `run --wait`). */
const startCli = (args: readonly string[], env: Record<string, string>): Started =>
  startChild(process.execPath, [BIN, ...args], { env });

// Its own process group, so that stopping it stops npm, the runner and the function processes.
const startNpm = (args: readonly string[], env: Record<string, string>): Started =>
  startChild('npm', ['start', '--', ...args], { env, detached: true });

async function waitFor(started: Started, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(started.output());
    if (match !== null) return match;
    if (started.child.exitCode !== null) throw new Error(`npm start exited early:\n${started.output()}`);
    if (Date.now() > until)
      throw new Error(`npm start did not print ${pattern} in time:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function stop(started: Started): Promise<number | null> {
  if (started.child.exitCode === null && started.child.pid !== undefined) {
    try {
      process.kill(-started.child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  return started.exited;
}

describe('the CLI against npm start (child processes)', () => {
  const state = mkdtempSync(join(tmpdir(), 'cli-e2e-'));
  let npm: Started;
  let env: Record<string, string>;

  before(async () => {
    npm = startNpm(
      [
        '--port',
        '0',
        '--emulator-port',
        '0',
        '--tick-seconds',
        '1',
        '--run-seconds',
        '3',
        '--state-dir',
        state,
      ],
      // A setting from the environment must reach the functions: other projects get the documented 403.
      // (And no credentials of the shell this runs in: npm start makes its own key.)
      { ALLOWED_PROJECTS: `${PROJECT},demo-project`, API_KEYS: '', DATASPHERE_RUNNER_API_KEY: '' },
    );
    const [, url] = await waitFor(npm, /front door on (http:\/\/127\.0\.0\.1:\d+)/, 180_000);
    // The key npm start prints for the /runs routes, copied as a user would (docs/auth.md).
    const [, key] = await waitFor(npm, /export DATASPHERE_RUNNER_API_KEY=(\S+)/, 30_000);
    env = { DATASPHERE_RUNNER_URL: url ?? '', DATASPHERE_RUNNER_API_KEY: key ?? '' };
    await waitFor(npm, /Ctrl-C stops everything/, 30_000);
  });

  after(async () => {
    if (npm !== undefined) await stop(npm);
    rmSync(state, { recursive: true, force: true });
  });

  it('prints how to use the CLI against it, and every console line has its time and level', () => {
    const output = npm.output();
    assert.match(output, /export DATASPHERE_RUNNER_URL=http:\/\/127\.0\.0\.1:\d+/);
    assert.match(output, /npx datasphere-runner run --project e2e-project --notebook \S+ --wait/);
    assert.match(output, /ALLOWED_PROJECTS=e2e-project,demo-project/);
    const logLines = output.split('\n').filter((line) => /^\d{2}:\d{2}:\d{2}\.\d{3} /.test(line));
    assert.ok(logLines.length >= 4, output);
    for (const line of logLines) assert.match(line, /^\d{2}:\d{2}:\d{2}\.\d{3} (DEBUG|INFO |WARN |ERROR) /);
  });

  it('run --wait exits 0 on SUCCEEDED and 1 on FAILED; list shows both; the console follows them', async () => {
    const [ok, failed] = await Promise.all([
      runCli(['run', '--project', PROJECT, '--notebook', 'ok.ipynb', '--wait', '--interval', '0.5'], env),
      runCli(
        [
          'run',
          '-p',
          PROJECT,
          '-n',
          'fails.ipynb',
          '--var',
          'EMULATOR_OUTCOME=ERROR',
          '--wait',
          '--interval',
          '0.5',
        ],
        env,
      ),
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /SUCCEEDED/);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /FAILED/);
    assert.match(failed.stdout, /error: EXECUTION_ERROR/);
    const okId = /started run (\S+)/.exec(ok.stdout)?.[1];
    const failedId = /started run (\S+)/.exec(failed.stdout)?.[1];
    assert.ok(okId !== undefined && failedId !== undefined);

    const listed = await runCli(['list', '--project', PROJECT, '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const page = JSON.parse(listed.stdout) as { runs: { runId: string; status: string }[] };
    const statusOf = new Map(page.runs.map((r) => [r.runId, r.status]));
    assert.equal(statusOf.get(okId), 'SUCCEEDED');
    assert.equal(statusOf.get(failedId), 'FAILED');
    const table = await runCli(['list', '--project', PROJECT, '--status', 'FAILED'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^${failedId} +FAILED `, 'm'));
    assert.ok(!table.stdout.includes(okId));

    await waitFor(
      npm,
      new RegExp(`run ${failedId} +RUNNING → FAILED .*error\\.code=EXECUTION_ERROR`),
      30_000,
    );
    await waitFor(npm, new RegExp(`run ${okId} +RUNNING → SUCCEEDED`), 30_000);
  });

  it('run --retry --wait follows each attempt to the last: exit 0 when attempt 2 succeeds, 1 when all fail', async () => {
    // The emulator fails the first Execute of a notebook with EMULATOR_OUTCOMES=ERROR,OK and lets the
    // retry (same input variables) succeed; EMULATOR_OUTCOME=ERROR fails every attempt. The smallest
    // delay the service takes (1 s) and npm start's 1 s tick keep it short.
    const retried = (notebook: string, outcome: string, ...more: string[]) => [
      'run',
      '-p',
      PROJECT,
      '-n',
      notebook,
      '--var',
      outcome,
      '--var',
      'EMULATOR_DURATION_MS=500',
      '--retry',
      '2',
      '--retry-delay',
      '1',
      '--wait',
      '--interval',
      '0.5',
      ...more,
    ];
    const [second, none, json] = await Promise.all([
      runCli(retried('retry-once.ipynb', 'EMULATOR_OUTCOMES=ERROR,OK'), env),
      runCli(retried('retry-never.ipynb', 'EMULATOR_OUTCOME=ERROR'), env),
      runCli(retried('retry-json.ipynb', 'EMULATOR_OUTCOMES=ERROR,OK', '--json'), env),
    ]);

    assert.equal(second.code, 0, second.stdout + second.stderr);
    const first = /^started run (\S+)/.exec(second.stdout)?.[1] ?? '';
    const next = /attempt 1 FAILED \(EXECUTION_ERROR: [^)]*\); attempt 2 is run (\S+)$/m.exec(
      second.stdout,
    )?.[1];
    assert.ok(next !== undefined && next !== first, second.stdout);
    assert.match(second.stdout, new RegExp(`run ${first} +FAILED`));
    assert.match(second.stdout, /^ {2}attempt 2 is due at \d\d:\d\d:\d\d/m);
    assert.match(second.stdout, new RegExp(`run ${next} +SUCCEEDED`));
    const status = await runCli(['status', next], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^attempt +2 {2}after run ${first}$`, 'm'));
    const before = await runCli(['status', first], env);
    assert.match(before.stdout, new RegExp(`^next +attempt 2 is run ${next}$`, 'm'));

    assert.equal(none.code, 1, none.stdout + none.stderr);
    const hops =
      none.stdout.match(/attempt \d FAILED \(EXECUTION_ERROR: [^)]*\); attempt \d is run \S+/g) ?? [];
    assert.equal(hops.length, 1, none.stdout);
    const last = /attempt 2 is run (\S+)/.exec(hops[0] ?? '')?.[1];
    assert.match(none.stdout, new RegExp(`run ${last} +FAILED`));
    assert.match(none.stdout, /error: EXECUTION_ERROR: .*\n$/);

    assert.equal(json.code, 0, json.stderr);
    const records = json.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            runId: string;
            status: string;
            attempt?: number;
            retryAt?: string;
            retriedBy?: string;
          },
      );
    const firstRun = records[0]?.runId;
    const hop = records.find((r) => r.retriedBy !== undefined);
    assert.ok(hop !== undefined && hop.runId === firstRun && hop.status === 'FAILED', json.stdout);
    assert.ok(
      records.some((r) => r.runId === firstRun && r.status === 'FAILED' && r.retryAt !== undefined),
      json.stdout,
    );
    const lastRecord = records.at(-1);
    assert.equal(lastRecord?.runId, hop.retriedBy);
    assert.equal(lastRecord?.status, 'SUCCEEDED');
    assert.equal(lastRecord?.attempt, 2);
  });

  it('a cancel while the retry is due stops it: the waiting CLI exits 1 by the failed attempt, no hop', async () => {
    const waiting = startCli(
      [
        'run',
        '-p',
        PROJECT,
        '-n',
        'retry-stopped.ipynb',
        '--var',
        'EMULATOR_OUTCOME=ERROR',
        '--var',
        'EMULATOR_DURATION_MS=500',
        '--retry',
        '3',
        '--retry-delay',
        '1h',
        '--wait',
        '--interval',
        '0.5',
      ],
      env,
    );
    const [, runId] = await waitFor(waiting, /started run (\S+)/, 60_000);
    await waitFor(waiting, /attempt 2 is due at/, 60_000);
    const listed = await runCli(['list', '--project', PROJECT, '--notebook', 'retry-stopped.ipynb'], env);
    assert.match(listed.stdout, new RegExp(`^${runId} +FAILED +1 \\(retry \\d\\d:\\d\\d:\\d\\d\\) `, 'm'));
    const cancelled = await runCli(['cancel', runId ?? ''], env);
    assert.equal(cancelled.code, 0, cancelled.stdout + cancelled.stderr);
    assert.match(
      cancelled.stdout,
      new RegExp(`run ${runId} had ended FAILED; its next attempt will not start`),
    );
    assert.equal(await waiting.exited, 1, waiting.output());
    assert.doesNotMatch(waiting.output(), /attempt 2 is run/);
    assert.match(waiting.output(), /attempt 2 will not start: the retry was stopped \(user\)/);
    const status = await runCli(['status', runId ?? '', '--json'], env);
    const record = JSON.parse(status.stdout) as Record<string, unknown>;
    assert.equal(record.status, 'FAILED');
    assert.equal(record.retryAt, undefined);
    assert.equal(record.retriedBy, undefined);
  });

  it('cancel, then watch ends CANCELLED (exit 1)', async () => {
    // A run long enough to be cancelled while it runs.
    const started = await runCli(
      ['run', '-p', PROJECT, '-n', 'long.ipynb', '--var', 'EMULATOR_DURATION_MS=600000', '--json'],
      env,
    );
    assert.equal(started.code, 0, started.stderr);
    const { runId } = JSON.parse(started.stdout) as { runId: string };
    const cancelled = await runCli(['cancel', runId], env);
    assert.equal(cancelled.code, 0, cancelled.stdout + cancelled.stderr);
    assert.match(cancelled.stdout, new RegExp(`cancel requested for run ${runId}`));
    const watched = await runCli(['watch', runId, '--interval', '0.5'], env);
    assert.equal(watched.code, 1, watched.stdout + watched.stderr);
    assert.match(watched.stdout, /CANCELLED/);
    const again = await runCli(['cancel', runId], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /had already ended: CANCELLED|is CANCELLED/);
  });

  it('a project outside ALLOWED_PROJECTS is refused 403 (exit 2); an unknown run is 404 (exit 2)', async () => {
    const refused = await runCli(['run', '-p', 'other-project', '-n', 'nb.ipynb'], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /PROJECT_NOT_ALLOWED: .*\(HTTP 403\)/);
    await waitFor(npm, /WARN {2}execute +request failed .*code=PROJECT_NOT_ALLOWED/, 10_000);
    const unknown = await runCli(['status', 'no-such-run'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /RUN_NOT_FOUND/);
  });

  it('a queue message is answered with its id, and the console names the run it started', async () => {
    const response = await fetch(`${env.DATASPHERE_RUNNER_URL}/queues/execute`, {
      method: 'POST',
      body: JSON.stringify({ projectId: PROJECT, notebookId: 'queued.ipynb' }),
    });
    assert.equal(response.status, 200);
    const { messageId } = (await response.json()) as { messageId: string };
    assert.match(messageId, /^[0-9a-f-]{36}$/);
    await waitFor(
      npm,
      new RegExp(`queue +message ${messageId}: started run [0-9a-f-]{36} \\(RUNNING\\)`),
      30_000,
    );
  });

  it('answers unknown routes and wrong methods with the documented error shape', async () => {
    const missing = await fetch(`${env.DATASPHERE_RUNNER_URL}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(((await missing.json()) as { error: object }).error).sort(), [
      'code',
      'message',
    ]);
    const wrong = await fetch(`${env.DATASPHERE_RUNNER_URL}/runs/x/cancel`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
  });

  it('a port in use is one line naming the port and the option, no stack trace (exit 1)', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    try {
      const second = startNpm(['--port', String(port), '--state-dir', join(state, 'second')], {});
      const code = await second.exited;
      assert.equal(code, 1);
      const lines = second
        .output()
        .split('\n')
        .filter((line) => line.startsWith('npm start:'));
      assert.deepEqual(lines, [
        `npm start: port ${port} (the front door) is in use; choose another with --port N, e.g. npm start -- --port ${port + 1}`,
      ]);
      assert.ok(!/\n\s+at /.test(second.output()), second.output());
    } finally {
      blocker.close();
    }
  });
});
