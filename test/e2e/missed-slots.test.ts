/**
 * Missed scheduled slots (issue #13 item 4) on the BUILT bundles, on both stores: a daily slot whose
 * ticks were all lost is reported by the first tick that comes, hours later (no tick came in the minute
 * after its catch-up window), as one warning naming the job and the slot and one `run.missed` webhook,
 * also when two execute processes tick at once; later ticks and sweeps report nothing again, and a
 * five-minute job's slots passed over by a gap are each reported once. The jobs are pinned to 2035 and 2036.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { eventually, PROJECT, pause } from './support/harness.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { STORE_NAMES } from './support/stores.ts';

const JOBS = `
jobs:
  nightly-2035:
    schedule: "0 3 ? * * 2035"
    run:
      projectId: ${PROJECT}
      notebookId: missed/nightly.ipynb
  five-2036:
    schedule: "*/5 * ? * * 2036"
    concurrency: allow
    run:
      projectId: ${PROJECT}
      notebookId: missed/five.ipynb
`;

const bundles = bundlesForTestFile({ jobs: JOBS });

for (const storeName of STORE_NAMES) {
  describe(`missed slots on the built bundles (${storeName} ledger)`, () => {
    const {
      harness: h,
      webhook,
      sweep,
    } = platformOnStore({
      bundles,
      store: storeName,
      dirPrefix: 'ds-orch-missed-',
      webhook: true,
      emulator: { durationMs: 100 },
    });
    const missed = (job: string) =>
      h()
        .logs.lines('scheduled slot missed')
        .filter((line) => line.job === job)
        .map((line) => line.slot as string);
    const reportsOf = (job: string) =>
      webhook().received.filter((r) => r.json?.type === 'run.missed' && r.json?.run?.job?.name === job);
    const sweepUntilDelivered = (job: string, count: number) =>
      eventually(`${count} run.missed report(s) of ${job}`, async () => {
        await sweep();
        return reportsOf(job).length >= count || undefined;
      });

    it('a daily slot whose ticks were all lost is reported once by the first tick hours later, also with two ticks at once', async () => {
      const other = await h().spawn('execute');
      const tick = (iso: string) => h().platform.invoke('execute', timerEvent({ now: new Date(iso) }));
      assert.equal((await tick('2035-01-01T03:00:10Z')).ok, true);
      assert.equal(h().operationsOf('missed/nightly.ipynb').length, 1);
      // Ticks are lost from 02:50 to 09:30 the next day; then two instances tick at once.
      const both = await Promise.all([
        tick('2035-01-02T09:30:02Z'),
        other.invoke(timerEvent({ now: new Date('2035-01-02T09:30:02Z') })),
      ]);
      for (const result of both) assert.equal(result.ok, true, result.errorMessage);
      assert.deepEqual(missed('nightly-2035'), ['2035-01-02T03:00:00.000Z']);
      const [line] = h().logs.lines('scheduled slot missed');
      assert.equal(line?.level, 'WARN');
      assert.match(String((line?.error as { message?: string })?.message), /catch-up window of 15 minutes/);

      await sweepUntilDelivered('nightly-2035', 1);
      const [report] = reportsOf('nightly-2035');
      assert.equal(report?.headers['x-runner-event'], 'run.missed');
      assert.deepEqual(report?.json?.run?.job, { name: 'nightly-2035', slot: '2035-01-02T03:00:00.000Z' });
      assert.equal(report?.json?.run?.error?.code, 'MISSED');
      assert.equal(report?.json?.run?.status, 'FAILED');

      // Later ticks (each instance) and sweeps report nothing again, and the slot never starts late.
      for (const minute of ['31', '32', '33']) {
        await tick(`2035-01-02T09:${minute}:02Z`);
        await other.invoke(timerEvent({ now: new Date(`2035-01-02T09:${minute}:03Z`) }));
        await sweep();
      }
      await pause(100);
      assert.equal(missed('nightly-2035').length, 1);
      assert.equal(reportsOf('nightly-2035').length, 1);
      assert.equal(h().operationsOf('missed/nightly.ipynb').length, 1);
      assert.equal(
        h()
          .logs.lines('run finished')
          .filter((l) => l.job === 'nightly-2035').length,
        1,
        'only day 1 ran',
      );
      console.log(
        `[missed ${storeName}] a daily slot lost, two ticks at once, then 6 ticks and 3 sweeps: ${missed('nightly-2035').length} warning, ${reportsOf('nightly-2035').length} run.missed webhook`,
      );
    });

    it("a five-minute job's slots passed over by a gap are each reported once, once no late tick can start them", async () => {
      const tick = (iso: string) => h().platform.invoke('execute', timerEvent({ now: new Date(iso) }));
      await tick('2036-02-01T10:00:05Z');
      await tick('2036-02-01T10:40:05Z');
      assert.deepEqual(
        missed('five-2036').map((slot) => slot.slice(11, 16)),
        ['10:05', '10:10', '10:15', '10:20'],
      );
      for (let minute = 41; minute <= 51; minute++) await tick(`2036-02-01T10:${minute}:05Z`);
      assert.deepEqual(
        missed('five-2036').map((slot) => slot.slice(11, 16)),
        ['10:05', '10:10', '10:15', '10:20', '10:25', '10:30', '10:35'],
      );
      await sweepUntilDelivered('five-2036', 7);
      await sweep();
      await pause(100);
      assert.equal(reportsOf('five-2036').length, 7);
      console.log(
        `[missed ${storeName}] five-minute job, ticks lost 10:01-10:39: ${missed('five-2036').length} slot(s) reported, ${reportsOf('five-2036').length} webhook(s)`,
      );
    });
  });
}
