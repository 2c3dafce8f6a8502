// What a retry, a queued run, a replacement and a chained run cost, in API calls and ledger operations,
// measured with the in-memory ledger behind a counting wrapper (the file and Document API stores make
// one store call per port call: a conditional write, a read, or an index query). Each figure is the
// difference with the same work done without the feature, so it is what the feature adds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { tick } from '../../shared/core/tick.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { harness, REQUEST } from './core-fixtures.ts';
import { type CountingLedger, countingLedger } from './counting-ledger.ts';

type H = ReturnType<typeof harness> & { ledger: CountingLedger };
const WRITES = ['create', 'update', 'acquireSlot', 'transferSlot', 'releaseSlot'];
const READS = ['get', 'getSlot'];
const LISTS = ['listOpen'];

function measured(): H {
  const ledger = countingLedger(createInMemoryLedger());
  return harness({ ledger }) as H;
}

interface Cost {
  writes: number;
  reads: number;
  lists: number;
  execute: number;
  get: number;
  cancel: number;
}

function cost(h: H): Cost {
  return {
    writes: h.ledger.count(...WRITES),
    reads: h.ledger.count(...READS),
    lists: h.ledger.count(...LISTS),
    execute: h.api.count('execute'),
    get: h.api.count('get'),
    cancel: h.api.count('cancel'),
  };
}

const minus = (a: Cost, b: Cost): Cost => ({
  writes: a.writes - b.writes,
  reads: a.reads - b.reads,
  lists: a.lists - b.lists,
  execute: a.execute - b.execute,
  get: a.get - b.get,
  cancel: a.cancel - b.cancel,
});

const show = (c: Cost) =>
  `${c.execute} Execute, ${c.get} Operation.Get, ${c.cancel} Cancel; ledger: ${c.writes} writes, ${c.reads} reads, ${c.lists} open-index listings`;

/** Sweeps a minute apart until nothing is due any more (every run ended and settled). */
async function settleAll(h: H): Promise<void> {
  for (let i = 0; i < 10; i++) {
    h.clock.advance(130);
    await sweep(h.deps);
  }
  assert.deepEqual(await h.ledger.listOpen(), [], 'everything settled');
}

async function start(h: H, request: RunRequest, key: string) {
  return (await startRun({ request, trigger: 'http', dedupe: { kind: 'key', key } }, h.deps)).record;
}

async function endOp(h: H, runId: string, outcome: 'OK' | 'ERROR' | 'ABORTED') {
  h.api.finish((await h.ledger.get(runId))?.operationId ?? '', outcome);
  h.clock.advance(60);
  await sweep(h.deps);
}

describe('what orchestration costs', () => {
  it('a retry: one Execute and the Gets of the new attempt, like a new run, plus a few ledger writes', async () => {
    // Without retry: a run fails, and the caller starts the same request again (another key).
    const plain = measured();
    const a = await start(plain, REQUEST, 'a');
    await endOp(plain, a.runId, 'ERROR');
    plain.clock.advance(60);
    const b = await start(plain, REQUEST, 'b');
    await endOp(plain, b.runId, 'OK');
    await settleAll(plain);
    // With retry: the same failure, retried after 60 s by the sweep.
    const retried = measured();
    const first = await start(
      retried,
      { ...REQUEST, retry: { attempts: 2, delaySeconds: 60, backoff: 1, on: ['FAILED'] } },
      'a',
    );
    await endOp(retried, first.runId, 'ERROR');
    retried.clock.advance(60);
    await sweep(retried.deps);
    const second = (await retried.ledger.get(first.runId))?.retriedBy ?? '';
    await endOp(retried, second, 'OK');
    await settleAll(retried);
    const extra = minus(cost(retried), cost(plain));
    console.log(`[cost] two attempts by retry: ${show(cost(retried))}`);
    console.log(`[cost] the same two runs started by the caller: ${show(cost(plain))}`);
    console.log(`[cost] a retry adds: ${show(extra)}`);
    assert.equal(extra.execute, 0);
    assert.equal(extra.cancel, 0);
    assert.ok(extra.writes <= 3, `${extra.writes} writes`);
    assert.ok(extra.reads <= 3, `${extra.reads} reads`);
    assert.equal(extra.lists, 0);
  });

  it('a queued run: no API call while it waits; its hand-over costs a few ledger operations', async () => {
    // Without queue: the second run is started by the caller once the first has ended.
    const plain = measured();
    const a = await start(plain, { ...REQUEST, concurrency: 'skip' }, 'a');
    await endOp(plain, a.runId, 'OK');
    const b = await start(plain, { ...REQUEST, concurrency: 'skip' }, 'b');
    await endOp(plain, b.runId, 'OK');
    await settleAll(plain);
    const queued = measured();
    const holder = await start(queued, { ...REQUEST, concurrency: 'queue' }, 'a');
    const waiting = await start(queued, { ...REQUEST, concurrency: 'queue' }, 'b');
    assert.equal(waiting.status, 'QUEUED');
    await endOp(queued, holder.runId, 'OK');
    await endOp(queued, waiting.runId, 'OK');
    await settleAll(queued);
    const extra = minus(cost(queued), cost(plain));
    console.log(`[cost] two runs, the second queued: ${show(cost(queued))}`);
    console.log(
      `[cost] the same two skip runs, the second started after the first ended: ${show(cost(plain))}`,
    );
    console.log(`[cost] queueing adds: ${show(extra)}`);
    assert.equal(extra.execute, 0);
    assert.ok(extra.writes <= 4, `${extra.writes} writes`);
  });

  it('a replacement: one Cancel of the old operation, then the new run as a queued one', async () => {
    const h = measured();
    const old = await start(h, { ...REQUEST, concurrency: 'replace' }, 'a');
    const before = cost(h);
    await start(h, { ...REQUEST, concurrency: 'replace' }, 'b');
    const atStart = minus(cost(h), before);
    console.log(`[cost] a replace start while a run runs: ${show(atStart)}`);
    assert.equal(atStart.execute, 0);
    assert.equal(atStart.cancel, 1);
    await endOp(h, old.runId, 'ABORTED');
    assert.equal(h.api.count('execute'), 2);
  });

  it('a chained run: one Execute, started by the sweep that settles the upstream ending', async () => {
    const jobs: JobDefinition<RunRequest>[] = [
      { name: 'train', schedule: '0 3 ? * * *', concurrency: 'allow', run: REQUEST },
      {
        name: 'report',
        after: { job: 'train', on: 'success' },
        concurrency: 'allow',
        run: { ...REQUEST, notebookId: 'r.ipynb' },
      },
    ];
    const measure = async (chained: boolean) => {
      const h = measured();
      h.clock.ms = Date.parse('2026-06-01T03:00:05Z');
      if (chained) Object.assign(h.deps, { jobs: [jobs[1]] });
      const [result] = await tick(jobs, h.clock.now(), h.deps);
      const runId = result && 'runId' in result ? (result.runId ?? '') : '';
      await endOp(h, runId, 'OK');
      if (!chained) await start(h, jobs[1]?.run as RunRequest, 'report');
      const downstream = [...h.api.operations.values()].at(-1);
      assert.equal(h.api.operations.size, 2);
      h.api.finish(downstream?.id ?? '', 'OK');
      await settleAll(h);
      return cost(h);
    };
    const withChain = await measure(true);
    const withoutChain = await measure(false);
    const extra = minus(withChain, withoutChain);
    console.log(`[cost] an upstream run and its chained run: ${show(withChain)}`);
    console.log(`[cost] a chain adds, compared with starting the second run by hand: ${show(extra)}`);
    assert.equal(withChain.execute, 2);
    assert.equal(extra.execute, 0);
    assert.ok(extra.writes <= 1 && extra.reads <= 2, show(extra));
  });
});
