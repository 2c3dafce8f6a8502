/**
 * Scheduled jobs through the built execute bundle: the jobs file is embedded at build time and each
 * per-minute tick (a timer event without payload, its `created_at` as the clock) starts the jobs due.
 * The jobs are pinned to years (2031, 2032) so that the ticks of one test never make another test's
 * jobs due.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  type Json,
  PROJECT,
  startHarness,
  tempDir,
} from './support/harness.ts';

const JOBS = `
jobs:
  hourly-2031:
    schedule: "0 * ? * * 2031"
    concurrency: allow
    run:
      projectId: ${PROJECT}
      notebookId: jobs/hourly.ipynb
  skip-2032:
    schedule: "* * ? * * 2032"
    concurrency: skip
    run:
      projectId: ${PROJECT}
      notebookId: jobs/skip.ipynb
  allow-2032:
    schedule: "* * ? * * 2032"
    concurrency: allow
    run:
      projectId: ${PROJECT}
      notebookId: jobs/allow.ipynb
      timeoutSeconds: 3600
`;

let bundles: BuiltBundles | undefined;
let harness: Harness | undefined;
const h = (): Harness => {
  if (harness === undefined) throw new Error('the platform did not start');
  return harness;
};

/** A tick of both timers at `iso` (UTC). */
const tickAt = (iso: string) => h().platform.tick(new Date(iso));

/** `run claimed` lines of one job, as `slot` values. */
const claimedSlots = (job: string) =>
  h()
    .logs.lines('run claimed')
    .filter((line) => line.job === job)
    .map((line) => line.slot as string);

describe('scheduled jobs through the built execute bundle', () => {
  before(async () => {
    bundles = await buildBundles({ jobs: JOBS });
    harness = await startHarness({
      distDir: bundles.distDir,
      env: { RUN_STORE: `file:${bundles.dir}/runs`, ALLOWED_PROJECTS: PROJECT },
    });
    h().emulator.plan({ notebookId: 'jobs/hourly.ipynb', durationMs: 100 });
    h().emulator.plan({ notebookId: 'jobs/skip.ipynb', durationMs: 600_000 });
    h().emulator.plan({ notebookId: 'jobs/allow.ipynb', durationMs: 600_000 });
  });

  after(async () => {
    await harness?.close();
    bundles?.remove();
  });

  it('a slot starts once under duplicated, concurrent and late ticks within the catch-up window', async () => {
    const other = await h().platform.addInstance('execute');
    const retried = timerEvent({ now: new Date('2031-03-04T06:00:02Z') });
    for (const result of [
      await h().platform.invoke('execute', retried),
      await h().platform.invoke('execute', retried),
    ]) {
      assert.equal(result.ok, true, result.errorMessage);
    }
    await tickAt('2031-03-04T06:00:05Z');
    await tickAt('2031-03-04T06:00:05Z');
    const together = await Promise.all([
      tickAt('2031-03-04T06:00:30Z'),
      tickAt('2031-03-04T06:00:31Z'),
      other(timerEvent({ now: new Date('2031-03-04T06:00:45Z') })),
      other(timerEvent({ now: new Date('2031-03-04T06:00:45Z') })),
    ]);
    for (const result of together) {
      const execute = 'execute' in result ? result.execute : result;
      assert.equal(execute.ok, true, execute.errorMessage);
    }
    // Late ticks: 9 and 15 minutes after the slot (a lost or delayed trigger) still see it, once.
    await tickAt('2031-03-04T06:09:00Z');
    await tickAt('2031-03-04T06:15:59Z');
    assert.equal(h().operationsOf('jobs/hourly.ipynb').length, 1);
    assert.equal(h().executeRequests(PROJECT).length, 1);
    assert.deepEqual(claimedSlots('hourly-2031'), ['2031-03-04T06:00:00.000Z']);
    const [started] = await eventually('the "scheduled run started" line', () => {
      const lines = h()
        .logs.lines('scheduled run started')
        .filter((line) => line.job === 'hourly-2031');
      return lines.length > 0 ? lines : undefined;
    });
    const record = (await h().check(started?.runId as string)).json as Json;
    assert.equal(record.trigger, 'schedule');
    assert.deepEqual(record.job, { name: 'hourly-2031', slot: '2031-03-04T06:00:00.000Z' });
    await h().waitForStatus(record.runId, 'SUCCEEDED');
  });

  it('a slot older than the catch-up window does not start, and is reported missed once', async () => {
    const before = h().executeRequests(PROJECT).length;
    // 07:00 is 16 minutes old at 07:16: too old (the window is 15 minutes).
    await tickAt('2031-03-04T07:16:00Z');
    await tickAt('2031-03-04T07:16:30Z');
    await tickAt('2031-03-04T07:40:00Z');
    assert.equal(h().executeRequests(PROJECT).length, before);
    assert.deepEqual(claimedSlots('hourly-2031'), ['2031-03-04T06:00:00.000Z']);
    const missed = h()
      .logs.lines('scheduled slot missed')
      .filter((line) => line.job === 'hourly-2031')
      .map((line) => line.slot);
    assert.deepEqual(missed, ['2031-03-04T07:00:00.000Z']);
  });

  it('skip prevents a new slot while the previous run is RUNNING, allow starts it anyway', async () => {
    await tickAt('2032-05-06T10:00:10Z');
    assert.equal(h().operationsOf('jobs/skip.ipynb').length, 1);
    assert.equal(h().operationsOf('jobs/allow.ipynb').length, 1);

    await tickAt('2032-05-06T10:01:10Z');
    assert.equal(h().operationsOf('jobs/skip.ipynb').length, 1, 'skip: the 10:00 run is still RUNNING');
    assert.equal(h().operationsOf('jobs/allow.ipynb').length, 2, 'allow: started anyway');
    await eventually('the "still running" line', () =>
      h()
        .logs.lines('scheduled slot skipped: the previous run is still running')
        .some((line) => line.job === 'skip-2032' && line.slot === '2032-05-06T10:01:00.000Z'),
    );

    // The 10:00 run ends; once a sweep has recorded that, the next slot starts.
    const [first] = h().operationsOf('jobs/skip.ipynb');
    h().emulator.finish(first?.id ?? '', 'OK');
    const skipRunId = await eventually('the skip run id', () =>
      h()
        .logs.lines('run claimed')
        .find((line) => line.job === 'skip-2032'),
    );
    await eventually('the sweep to record the end', async () => {
      await h().platform.invoke('check', timerEvent());
      return h().logs.statusOf(skipRunId.runId as string) === 'SUCCEEDED';
    });
    await tickAt('2032-05-06T10:02:10Z');
    assert.equal(h().operationsOf('jobs/skip.ipynb').length, 2);
    assert.equal(h().operationsOf('jobs/allow.ipynb').length, 3);
    assert.deepEqual(claimedSlots('skip-2032'), ['2032-05-06T10:00:00.000Z', '2032-05-06T10:02:00.000Z']);
    assert.deepEqual(claimedSlots('allow-2032'), [
      '2032-05-06T10:00:00.000Z',
      '2032-05-06T10:01:00.000Z',
      '2032-05-06T10:02:00.000Z',
    ]);
  });
});

describe('the jobs file at build time', () => {
  it('a bad jobs file fails the build, naming each bad job and its problem', async () => {
    const dir = tempDir();
    try {
      const jobsFile = join(dir.path, 'bad-jobs.yaml');
      writeFileSync(
        jobsFile,
        [
          'jobs:',
          '  fine-job:',
          '    schedule: "0 3 ? * * *"',
          '    run: { projectId: p1, notebookId: fine.ipynb }',
          '  broken-schedule:',
          '    schedule: "0 3 * * * *"',
          '    run: { projectId: p1, notebookId: a.ipynb }',
          '  broken-run:',
          '    schedule: "0 3 ? * * *"',
          '    run: { projectId: p1, notebookId: b.ipynb, colour: blue }',
          '',
        ].join('\n'),
      );
      await assert.rejects(buildBundles({ jobsFile, dir: dir.path }), (error: Error) => {
        assert.match(error.message, /jobs file is invalid/);
        assert.match(error.message, /jobs\.broken-schedule\.schedule: /);
        assert.match(error.message, /jobs\.broken-run\.run\.colour: /);
        assert.doesNotMatch(error.message, /fine-job/);
        return true;
      });
      assert.equal(existsSync(join(dir.path, 'dist')), false, 'nothing was built');
    } finally {
      dir.remove();
    }
  });
});
