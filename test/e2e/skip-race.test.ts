/**
 * design.md §4: with `concurrency: "skip"` "the check and the start are one atomic step: concurrent
 * requests can never both pass it". Racing real execute processes of the BUILT bundle (three of them)
 * on both stores: ten concurrent HTTP starts of one project+notebook with different keys, and ten
 * concurrent ticks of different minutes of a `skip` job, must start exactly one run each round.
 * (Issue #9 item 2: before, 1-9 runs started.)
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { timerEvent } from '../../local/cloud-events.ts';
import { bundlesForTestFile } from './support/bundles-for-test-file.ts';
import { type Invoke, racedStarts, threeExecuteInstances } from './support/execute-racers.ts';
import { eventually, PROJECT } from './support/harness.ts';
import { platformOnStore } from './support/platform-on-store.ts';
import { STORE_NAMES } from './support/stores.ts';

const RACERS = 10;
const HTTP_ROUNDS = 4;
const TICK_ROUNDS = 3;
const JOB = 'race-2033';
const JOB_NOTEBOOK = 'race/job.ipynb';
const JOBS = `
jobs:
  ${JOB}:
    schedule: "* * ? * * 2033"
    concurrency: skip
    run:
      projectId: ${PROJECT}
      notebookId: ${JOB_NOTEBOOK}
`;

const bundles = bundlesForTestFile({ jobs: JOBS });

for (const storeName of STORE_NAMES) {
  describe(`concurrency "skip" raced by three execute processes (${storeName} ledger)`, () => {
    const { harness: h, sweep } = platformOnStore({ bundles, store: storeName, dirPrefix: 'ds-rel-skip-' });
    let instances: Invoke[] = [];

    before(async () => {
      instances = await threeExecuteInstances(h());
    });

    /** Ends the run's operation and sweeps until the ledger says it ended (its slot is free again). */
    async function finishRun(runId: string, operationId: string) {
      h().emulator.finish(operationId, 'OK');
      await eventually(`run ${runId} to be SUCCEEDED`, async () => {
        await sweep();
        return (await h().check(runId)).json?.status === 'SUCCEEDED';
      });
    }

    it(`${RACERS} concurrent HTTP starts with different keys start exactly one run, ${HTTP_ROUNDS} rounds in a row`, async () => {
      const notebookId = `race/http-${storeName}.ipynb`;
      h().emulator.plan({ notebookId, durationMs: 600_000 });
      const started: number[] = [];
      for (let round = 1; round <= HTTP_ROUNDS; round++) {
        const before = h().operationsOf(notebookId).length;
        const answers = await racedStarts(
          instances,
          RACERS,
          { projectId: PROJECT, notebookId, concurrency: 'skip' },
          (i) => `${storeName}-${round}-${i}`,
        );
        const accepted = answers.filter((answer) => answer.statusCode === 202);
        const refused = answers.filter((answer) => answer.statusCode === 409);
        started.push(h().operationsOf(notebookId).length - before);
        assert.equal(accepted.length, 1, `round ${round}: ${accepted.length} starts were accepted`);
        assert.equal(refused.length, RACERS - 1, JSON.stringify(answers.map((a) => a.statusCode)));
        assert.equal(h().operationsOf(notebookId).length - before, 1, `round ${round}: one operation`);
        const winner = accepted[0]?.json;
        for (const answer of refused) {
          assert.equal(answer.json.error.code, 'RUN_ALREADY_RUNNING');
          assert.equal(answer.json.run?.runId ?? answer.json.error.runId, winner?.runId);
        }
        const record = (await h().check(winner?.runId)).json;
        assert.equal(record?.status, 'RUNNING');
        await finishRun(winner?.runId, winner?.operationId);
      }
      assert.deepEqual(started, Array(HTTP_ROUNDS).fill(1));
    });

    it(`${RACERS} concurrent ticks of different minutes of a skip job start exactly one run, ${TICK_ROUNDS} rounds in a row`, async () => {
      h().emulator.plan({ notebookId: JOB_NOTEBOOK, durationMs: 600_000 });
      const claims = () =>
        h()
          .logs.lines('run claimed')
          .filter((line) => line.job === JOB);
      for (let round = 1; round <= TICK_ROUNDS; round++) {
        const before = h().operationsOf(JOB_NOTEBOOK).length;
        const claimedBefore = claims().length;
        // Each tick is a different minute of the same hour: ten different (job, minute) runs.
        const base = Date.parse(`2033-0${round}-0${round}T10:00:10Z`);
        const results = await Promise.all(
          Array.from({ length: RACERS }, (_, i) => {
            const instance = instances[i % instances.length] as Invoke;
            return instance(timerEvent({ now: new Date(base + i * 60_000) }));
          }),
        );
        for (const result of results) assert.equal(result.ok, true, result.errorMessage);
        assert.equal(h().operationsOf(JOB_NOTEBOOK).length - before, 1, `round ${round}: one operation`);
        const won = claims().slice(claimedBefore);
        assert.equal(won.length, 1, `round ${round}: ${won.length} minutes were claimed`);
        const runId = won[0]?.runId as string;
        const record = (await h().check(runId)).json;
        assert.equal(record?.status, 'RUNNING');
        assert.equal(record?.job?.name, JOB);
        await finishRun(runId, record?.operationId);
      }
    });
  });
}
