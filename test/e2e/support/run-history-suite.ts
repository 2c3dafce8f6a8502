/**
 * The run history end to end (GET /runs, design.md §6), through the BUILT bundles and the local front
 * door, once per ledger store. 250 runs:
 * - 200 started by the execute function against the emulator (180 over HTTP, 20 through the execute
 *   queue), 40 of them failing, all followed to their end by the check function's sweep;
 * - 50 written straight into the same ledger (the store the functions use, opened by the test), with
 *   createdAt spread over the last 40 days in groups sharing one instant: the functions cannot create
 *   runs in the past, and this is what a ledger a month old looks like. 10 lie outside the default
 *   30-day window.
 * The oracle is independent of the list: the "run finished" log line of every function run (its public
 * record) and the records the test wrote.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunRecord } from '../../../shared/core/run-record.ts';
import type { RunLedger } from '../../../shared/ledger/run-ledger.ts';
import { sampleRecord } from '../../ledger/ledger-conformance.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  type Json,
  PROJECT,
  startHarness,
} from './harness.ts';

/** The ledger a suite runs against, and a way for the test to write into the very same store. */
export interface HistoryStore {
  readonly env: Readonly<Record<string, string>>;
  /** The store the functions use, opened by the test process. */
  openLedger(): RunLedger;
  close(): Promise<void>;
}

const OTHER_PROJECT = 'p-history-other';
const DAY = 86_400_000;
const FUNCTION_RUNS = 200;
const QUEUE_RUNS = 20;
const DIRECT_RUNS = 50;

interface Known {
  readonly runId: string;
  readonly createdAt: string;
  readonly status: string;
  readonly projectId: string;
  readonly notebookId?: string;
  readonly trigger: string;
  readonly job?: string;
}

/** createdAt descending, then runId descending (the order of every store for UUID run ids). */
const newestFirst = (a: Known, b: Known): number =>
  Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0);

/** Runs `work` over `items`, `width` at a time. */
async function inPool<T>(
  items: readonly T[],
  width: number,
  work: (item: T, index: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < items.length; i = next++) await work(items[i] as T, i);
    }),
  );
}

export function describeRunHistory(storeName: string, makeStore: () => Promise<HistoryStore>): void {
  describe(`the run history through the built functions (${storeName} ledger)`, () => {
    let bundles: BuiltBundles | undefined;
    let store: HistoryStore | undefined;
    let harness: Harness | undefined;
    const known = new Map<string, Known>();
    const h = (): Harness => {
      if (harness === undefined) throw new Error('the platform did not start');
      return harness;
    };

    /** Every page of `query` until nextCursor is null; asserts each page's shape. */
    async function pageAll(query: string, limit: number) {
      const runs: Json[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      for (let n = 0; n < 500; n += 1) {
        const path: string = `/runs?limit=${limit}${query === '' ? '' : `&${query}`}${cursor === null ? '' : `&cursor=${cursor}`}`;
        const answer = await h().request('GET', path);
        assert.equal(answer.status, 200, `${path}: ${answer.text}`);
        const page = answer.json as { runs: Json[]; nextCursor: string | null };
        assert.ok(page.runs.length <= limit);
        sizes.push(page.runs.length);
        runs.push(...page.runs);
        cursor = page.nextCursor;
        if (cursor === null) return { runs, sizes };
        assert.match(cursor, /^[A-Za-z0-9_-]+$/);
      }
      throw new Error(`paging ${query} did not end`);
    }

    /** The runs of `runs` are exactly `expected`, each once, in the history order. */
    function assertExactly(runs: readonly Json[], expected: readonly Known[], what: string) {
      const ids = runs.map((r) => r.runId as string);
      assert.equal(new Set(ids).size, ids.length, `${what}: a run came twice`);
      assert.deepEqual(
        ids,
        [...expected].sort(newestFirst).map((k) => k.runId),
        what,
      );
      for (const run of runs) {
        const k = known.get(run.runId as string);
        assert.equal(run.status, k?.status, `${what}: status of ${run.runId}`);
        assert.equal(run.createdAt, k?.createdAt);
        for (const hidden of ['request', 'dedupeKey', 'version', 'nextCheckAt', 'requestHash']) {
          assert.equal(run[hidden], undefined, `${what}: ${hidden} leaked`);
        }
      }
    }

    const all = () => [...known.values()];
    const recent = () => all().filter((k) => Date.parse(k.createdAt) > Date.now() - 30 * DAY);

    before(async () => {
      bundles = await buildBundles();
      store = await makeStore();
      harness = await startHarness({
        distDir: bundles.distDir,
        env: { ...store.env, ALLOWED_PROJECTS: `${PROJECT},${OTHER_PROJECT}`, LOG_LEVEL: 'info' },
        queue: { cutoffMs: 50, visibilityMs: 5_000, maxReceiveCount: 5 },
      });

      // 180 runs over HTTP: every fifth one fails; a quarter in the other project.
      const started = new Set<string>();
      const http = Array.from({ length: FUNCTION_RUNS - QUEUE_RUNS }, (_, i) => i);
      await inPool(http, 8, async (i) => {
        const answer = await h().execute(
          {
            projectId: i % 4 === 3 ? OTHER_PROJECT : PROJECT,
            notebookId: `history/nb-${i % 3}.ipynb`,
            ...(i % 5 === 0 ? { inputVariables: { EMULATOR_OUTCOME: 'ERROR' } } : {}),
          },
          { 'Idempotency-Key': `history-${storeName}-${i}` },
        );
        assert.equal(answer.status, 202, answer.text);
        started.add(answer.json?.runId as string);
      });
      // 20 through the execute queue (trigger "queue").
      for (let i = 0; i < QUEUE_RUNS; i += 1) {
        h().platform.send(
          'execute',
          JSON.stringify({ projectId: PROJECT, notebookId: 'history/queued.ipynb' }),
        );
      }
      await h().platform.drainQueues(60_000);
      assert.equal(h().platform.deadLetters.length, 0);

      // Sweeps until every one of the 200 has been reported finished (each exactly once).
      await eventually(
        'all 200 function runs to be reported finished',
        async () => {
          const finished = h().logs.lines('run finished');
          if (finished.length >= FUNCTION_RUNS) return true;
          await h().platform.tick();
          return h().logs.lines('run finished').length >= FUNCTION_RUNS;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      for (const line of h().logs.lines('run finished')) {
        const run = line.run as Json;
        known.set(run.runId, {
          runId: run.runId,
          createdAt: run.createdAt,
          status: run.status,
          projectId: run.projectId,
          notebookId: run.notebookId,
          trigger: run.trigger,
        });
      }
      assert.equal(known.size, FUNCTION_RUNS);
      for (const runId of started) assert.ok(known.has(runId), `HTTP run ${runId} was not reported`);

      // 50 older runs written to the same ledger: groups of 5 share one instant, over 40 days.
      const ledger = store.openLedger();
      try {
        const now = Date.now();
        for (let i = 0; i < DIRECT_RUNS; i += 1) {
          const createdAt = new Date(now - (1 + Math.floor(i / 5) * 4) * DAY + 3_600_000).toISOString();
          const { nextCheckAt: _open, ...fields } = sampleRecord({
            createdAt,
            updatedAt: createdAt,
            projectId: PROJECT,
            notebookId: 'history/nightly.ipynb',
            trigger: 'schedule',
            job: { name: 'nightly', slot: createdAt },
            status: i % 7 === 0 ? 'FAILED' : 'SUCCEEDED',
            finishedAt: createdAt,
          });
          const record: RunRecord = fields;
          assert.equal((await ledger.create(record)).created, true);
          known.set(record.runId, {
            runId: record.runId,
            createdAt,
            status: record.status,
            projectId: record.projectId,
            notebookId: 'history/nightly.ipynb',
            trigger: 'schedule',
            job: 'nightly',
          });
        }
      } finally {
        await ledger.close?.();
      }
      assert.equal(known.size, FUNCTION_RUNS + DIRECT_RUNS);
    });

    after(async () => {
      await harness?.close();
      await store?.close();
      bundles?.remove();
    });

    it('pages through the last 30 days, 100 at a time: every run once, newest first', async () => {
      const { runs, sizes } = await pageAll('', 100);
      assert.equal(recent().length, 240);
      assertExactly(runs, recent(), 'limit 100');
      assert.deepEqual(sizes.slice(0, 2), [100, 100]);
      assert.ok(sizes.length <= 4, `pages: ${sizes.join(',')}`);
    });

    it('pages through all 250 runs of a 45-day window with small pages, ties cut across pages', async () => {
      const since = new Date(Date.now() - 45 * DAY).toISOString();
      for (const limit of [7, 33]) {
        const { runs, sizes } = await pageAll(`since=${encodeURIComponent(since)}`, limit);
        assertExactly(runs, all(), `limit ${limit}`);
        assert.equal(runs.length, 250);
        assert.ok(sizes.length >= Math.ceil(250 / limit), `limit ${limit}: ${sizes.length} pages`);
      }
    });

    it('narrows with every filter, alone and combined', async () => {
      const since = `since=${encodeURIComponent(new Date(Date.now() - 45 * DAY).toISOString())}`;
      const cases: [string, (k: Known) => boolean][] = [
        ['status=FAILED', (k) => k.status === 'FAILED'],
        ['status=FAILED,SUCCEEDED', (k) => k.status === 'FAILED' || k.status === 'SUCCEEDED'],
        [`projectId=${OTHER_PROJECT}`, (k) => k.projectId === OTHER_PROJECT],
        ['notebookId=history%2Fnb-1.ipynb', (k) => k.notebookId === 'history/nb-1.ipynb'],
        ['trigger=queue', (k) => k.trigger === 'queue'],
        ['job=nightly', (k) => k.job === 'nightly'],
        ['action=execute', () => true],
        ['action=open', () => false],
        [
          `status=FAILED&projectId=${PROJECT}&trigger=http`,
          (k) => k.status === 'FAILED' && k.projectId === PROJECT && k.trigger === 'http',
        ],
      ];
      for (const [filter, wanted] of cases) {
        const expected = all().filter(wanted);
        const { runs } = await pageAll(`${since}&${filter}`, 50);
        assertExactly(runs, expected, filter);
      }
      assert.equal(all().filter((k) => k.trigger === 'queue').length, QUEUE_RUNS);
      assert.equal(all().filter((k) => k.status === 'FAILED' && k.trigger !== 'schedule').length, 36);
    });

    it('applies since and until on createdAt', async () => {
      const until = new Date(Date.now() - 10 * DAY);
      const since = new Date(Date.now() - 30 * DAY);
      const expected = all().filter((k) => {
        const t = Date.parse(k.createdAt);
        return t >= since.getTime() && t < until.getTime();
      });
      assert.ok(expected.length > 0);
      const { runs } = await pageAll(
        `since=${encodeURIComponent(since.toISOString())}&until=${encodeURIComponent(until.toISOString())}`,
        20,
      );
      assertExactly(runs, expected, 'since/until');
    });

    it('answers the history on the function URL too (GET /check without a run)', async () => {
      const answer = await h().request('GET', '/check?limit=3&status=FAILED');
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(
        answer.json?.runs.map((r: Json) => r.runId),
        recent()
          .filter((k) => k.status === 'FAILED')
          .sort(newestFirst)
          .slice(0, 3)
          .map((k) => k.runId),
      );
    });

    it('refuses a bad cursor and bad parameters with 400, naming each', async () => {
      const first = await h().request('GET', '/runs?limit=5');
      const cursor = first.json?.nextCursor as string;
      for (const bad of ['garbage', `${cursor.slice(0, -4)}AAAA`, 'x'.repeat(1100)]) {
        const answer = await h().request('GET', `/runs?limit=5&cursor=${bad}`);
        assert.equal(answer.status, 400, answer.text);
        assert.equal(answer.json?.error.code, 'INVALID_REQUEST');
        assert.equal(answer.json?.error.field, 'cursor');
      }
      const other = await h().request('GET', `/runs?limit=5&projectId=${OTHER_PROJECT}&cursor=${cursor}`);
      assert.equal(other.status, 400);
      assert.equal(other.json?.error.field, 'cursor');

      const many = await h().request('GET', '/runs?limit=500&status=DONE&since=last-week&colour=red');
      assert.equal(many.status, 400, many.text);
      assert.equal(many.json?.error.code, 'INVALID_REQUEST');
      assert.match(many.json?.error.message, /^limit: /);
      assert.deepEqual(
        many.json?.error.errors.map((e: Json) => e.field),
        ['limit', 'status', 'since', 'colour'],
      );
    });

    it('keeps paging exact while new runs are started between the pages', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let page = 0;
      const fresh: string[] = [];
      do {
        const answer = await h().request(
          'GET',
          `/runs?limit=25${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        assert.equal(answer.status, 200, answer.text);
        seen.push(...((answer.json?.runs ?? []) as Json[]).map((r) => r.runId as string));
        cursor = answer.json?.nextCursor;
        page += 1;
        if (page <= 3) {
          const started = await h().execute(
            { projectId: PROJECT, notebookId: 'history/during-paging.ipynb' },
            { 'Idempotency-Key': `history-during-${storeName}-${page}` },
          );
          assert.equal(started.status, 202, started.text);
          fresh.push(started.json?.runId);
        }
      } while (cursor !== null);
      assert.equal(new Set(seen).size, seen.length, 'a run came twice');
      assert.deepEqual(new Set(seen), new Set(recent().map((k) => k.runId)));
      for (const runId of fresh) assert.ok(!seen.includes(runId));
      // A new listing starts with them.
      const top = await h().request('GET', '/runs?limit=3');
      assert.deepEqual(new Set(top.json?.runs.map((r: Json) => r.runId)), new Set(fresh));
    });
  });
}
