/**
 * Job chains (issue #13 item 3) on the BUILT bundles, on both stores: the jobs file's chained jobs are
 * embedded into the check bundle, and the sweep that records the upstream run's ending starts the
 * downstream job once per upstream run, with UPSTREAM_RUN_ID / UPSTREAM_STATUS / UPSTREAM_JOB as input
 * variables; three check processes sweeping at once, and a check process killed (SIGKILL) in the
 * middle of the downstream's Execute, start it once. A cycle fails the build naming the jobs. The jobs
 * are pinned to 2034 so no other test's ticks make them due.
 */
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { chainDedupeKey } from '../../shared/core/job-chain.ts';
import { runIdFor } from '../../shared/core/run-identity.ts';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { buildBundles, eventually, type Json, PROJECT } from './support/harness.ts';
import { sweepKilledMidExecute } from './support/kill-mid-call.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { STORE_NAMES } from './support/stores.ts';

const OVERLAP_ROUNDS = 4;
const KILL_ROUNDS = 3;
const JOBS = `
jobs:
  train-2034:
    schedule: "0 3 ? * * 2034"
    run:
      projectId: ${PROJECT}
      notebookId: chain/train.ipynb
  report-2034:
    after: { job: train-2034, on: success }
    run:
      projectId: ${PROJECT}
      notebookId: chain/report.ipynb
      inputVariables: { FORMAT: pdf }
  alert-2034:
    after: { job: train-2034, on: failure }
    concurrency: allow
    run:
      projectId: ${PROJECT}
      notebookId: chain/alert.ipynb
`;

const bundles = bundlesForTestFile({ jobs: JOBS });

describe('job chains at build time', () => {
  let plainCheckBytes = 0;
  before(async () => {
    const plain = await buildBundles({ dir: join(bundles().dir, 'plain') });
    plainCheckBytes = statSync(join(plain.distDir, 'check', 'index.js')).size;
  });

  it('embed the chained jobs into the check bundle for a few hundred bytes', () => {
    const withJobs = statSync(join(bundles().distDir, 'check', 'index.js')).size;
    const cost = withJobs - plainCheckBytes;
    console.log(
      `[chain] check bundle: ${plainCheckBytes} B without jobs, ${withJobs} B with 2 chained jobs (+${cost} B)`,
    );
    assert.ok(cost > 0 && cost < 1024, `${cost} bytes`);
  });

  it('fail the build on a cycle or an unknown job, naming the jobs', async () => {
    const bad = join(bundles().dir, 'cycle.yaml');
    writeFileSync(
      bad,
      `jobs:\n  a:\n    after: { job: b }\n    run: { projectId: p, notebookId: a.ipynb }\n  b:\n    after: { job: a }\n    run: { projectId: p, notebookId: b.ipynb }\n  c:\n    after: { job: nope }\n    run: { projectId: p, notebookId: c.ipynb }\n`,
    );
    await assert.rejects(
      buildBundles({ jobsFile: bad, dir: join(bundles().dir, 'bad') }),
      /jobs\.c\.after\.job: no job named "nope"/,
    );
    writeFileSync(
      bad,
      `jobs:\n  a:\n    after: { job: b }\n    run: { projectId: p, notebookId: a.ipynb }\n  b:\n    after: { job: a }\n    run: { projectId: p, notebookId: b.ipynb }\n`,
    );
    await assert.rejects(
      buildBundles({ jobsFile: bad, dir: join(bundles().dir, 'bad') }),
      /jobs\.a\.after: jobs a, b form a cycle \(a runs after b, b runs after a\)/,
    );
  });
});

for (const storeName of STORE_NAMES) {
  describe(`job chains on the built bundles (${storeName} ledger)`, () => {
    const {
      harness: h,
      store,
      clock,
      read,
      sweep,
    } = platformOnStore({
      bundles,
      store: storeName,
      dirPrefix: 'ds-orch-chain-',
      movableClock: true,
      env: { START_RECOVERY_SECONDS: '10' },
      emulator: { durationMs: 600_000 },
    });
    let day = 0;

    /** Ticks the next day's 03:00 slot of train-2034 and ends its run with `outcome`; returns its record. */
    async function trainRun(outcome: 'OK' | 'ERROR'): Promise<Json> {
      day++;
      const slot = new Date(Date.UTC(2034, 0, day, 3, 0, 5));
      const tick = await h().platform.invoke('execute', timerEvent({ now: slot }));
      assert.equal(tick.ok, true, tick.errorMessage);
      const claimed = await eventually('the train run', () =>
        h()
          .logs.lines('run claimed')
          .find(
            (line) =>
              line.job === 'train-2034' && String(line.slot).startsWith(slot.toISOString().slice(0, 10)),
          ),
      );
      const train = await read(claimed.runId as string);
      h().emulator.finish(train.operationId, outcome);
      return train;
    }

    it(`three check processes sweeping the upstream ending at once start the downstream job once, with the upstream as input variables (${OVERLAP_ROUNDS} rounds)`, async () => {
      const sweepers = await Promise.all([h().spawn('check'), h().spawn('check')]);
      const counts: number[] = [];
      for (let round = 1; round <= OVERLAP_ROUNDS; round++) {
        const reportsBefore = h().operationsOf('chain/report.ipynb').length;
        const train = await trainRun('OK');
        const results = await Promise.all([sweep(), ...sweepers.map((s) => s.invoke(timerEvent()))]);
        for (const result of results) assert.equal(result.ok, true, result.errorMessage);
        const reportId = runIdFor(chainDedupeKey('report-2034', train.runId));
        const report = await eventually('the report run', async () => {
          const record = await read(reportId).catch(() => undefined);
          return record?.operationId === undefined ? undefined : record;
        });
        const reports = h().operationsOf('chain/report.ipynb').slice(reportsBefore);
        counts.push(reports.length);
        assert.equal(reports.length, 1, `round ${round}: one report operation`);
        assert.deepEqual(reports[0]?.inputVariables, {
          FORMAT: 'pdf',
          UPSTREAM_RUN_ID: train.runId,
          UPSTREAM_STATUS: 'SUCCEEDED',
          UPSTREAM_JOB: 'train-2034',
        });
        assert.equal(report.trigger, 'chain');
        assert.deepEqual(report.upstream, { runId: train.runId, status: 'SUCCEEDED', job: 'train-2034' });
        assert.equal(
          h()
            .logs.lines('chained run started')
            .filter((l) => l.upstreamRunId === train.runId).length,
          1,
        );
        assert.ok((await read(train.runId)).downstreamStartedAt);
        assert.equal(h().operationsOf('chain/alert.ipynb').length, 0, 'on: failure did not start');
        h().emulator.finish(report.operationId, 'OK');
        await eventually('the report to end', async () => {
          await sweep();
          return (await read(reportId)).finishedAt !== undefined || undefined;
        });
      }
      console.log(
        `[chain ${storeName}] overlapping sweeps, report operations per upstream run: ${counts.join(' ')}`,
      );
    });

    it(`a check process killed (SIGKILL) mid-Execute of the downstream: one downstream run, one operation (${KILL_ROUNDS} rounds)`, async () => {
      const summary: string[] = [];
      for (let round = 1; round <= KILL_ROUNDS; round++) {
        const reportsBefore = h().operationsOf('chain/report.ipynb').length;
        const train = await trainRun('OK');
        const killed = await sweepKilledMidExecute(
          h(),
          'the report Execute to reach the API',
          () => h().operationsOf('chain/report.ipynb').length > reportsBefore,
        );
        assert.equal(killed.ok, false);
        const reportId = runIdFor(chainDedupeKey('report-2034', train.runId));
        assert.equal((await read(reportId)).status, 'STARTING');
        clock().advance(11_000);
        const report: Json = await eventually('the report start to be re-driven', async () => {
          await sweep();
          const record = await read(reportId);
          return record.operationId === undefined ? undefined : record;
        });
        const reports = h().operationsOf('chain/report.ipynb').slice(reportsBefore);
        assert.equal(reports.length, 1, `round ${round}`);
        assert.equal(report.operationId, reports[0]?.id);
        summary.push(`${reports.length} report op`);
        h().emulator.finish(String(report.operationId), 'OK');
        await eventually('the report to end', async () => {
          await sweep();
          return (await read(reportId)).finishedAt !== undefined || undefined;
        });
      }
      console.log(`[chain ${storeName}] kill -9 mid downstream start: ${summary.join('; ')}`);
    });

    it('a failed upstream starts the on-failure job only, told the status', async () => {
      const train = await trainRun('ERROR');
      await eventually('the alert run', async () => {
        await sweep();
        return h().operationsOf('chain/alert.ipynb').length > 0 || undefined;
      });
      const [alert] = h().operationsOf('chain/alert.ipynb').slice(-1);
      assert.equal(alert?.inputVariables?.UPSTREAM_STATUS, 'FAILED');
      assert.equal(alert?.inputVariables?.UPSTREAM_RUN_ID, train.runId);
      assert.equal(await store().readRun(runIdFor(chainDedupeKey('report-2034', train.runId))), undefined);
      h().emulator.finish(alert?.id ?? '', 'OK');
    });
  });
}
