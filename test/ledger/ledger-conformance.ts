import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../shared/core/run-record.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { isUnreadableRecord } from '../../shared/ledger/ledger-error.ts';
import type { RunHistoryPage, RunHistoryQuery, RunPosition } from '../../shared/ledger/run-history.ts';
import type { LedgerObserver, RunLedger, UnreadableRecord } from '../../shared/ledger/run-ledger.ts';

/** What a store's test hands the suite: a fresh, empty ledger per test. */
export interface LedgerUnderTest {
  readonly ledger: RunLedger;
  cleanup(): Promise<void>;
  /** Another instance on the same storage, as another process would open it. */
  second?(): Promise<RunLedger>;
  /** Replaces the stored record of `runId` with `text` as it is (in the open index), like a bad edit. */
  corrupt?(runId: string, text: string): Promise<void>;
}

const RACERS = 20;
const T0 = Date.parse('2030-05-01T12:00:00.000Z');
const at = (offsetMs: number): string => new Date(T0 + offsetMs).toISOString();

/** A valid first-version record; every call gets its own runId unless `overrides` names one. */
export function sampleRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  const runId = overrides.runId ?? randomUUID();
  return {
    runId,
    dedupeKey: `key:${runId}`,
    requestHash: 'sha256:0f1e2d',
    request: { projectId: 'p1', notebookId: 'nb.ipynb', inputVariables: { MODE: 'full', N: 3, DRY: false } },
    trigger: 'http',
    projectId: 'p1',
    notebookId: 'nb.ipynb',
    status: 'STARTING',
    createdAt: at(-60_000),
    updatedAt: at(-60_000),
    deadline: at(86_400_000),
    nextCheckAt: at(0),
    checks: 0,
    version: 1,
    ...overrides,
  };
}

/** Drop `nextCheckAt` (exactOptionalPropertyTypes forbids setting it to undefined). */
function finished(record: RunRecord, status: RunRecord['status'] = 'SUCCEEDED'): RunRecord {
  const { nextCheckAt: _dropped, ...rest } = record;
  return { ...rest, status, finishedAt: at(1000) };
}

const ids = (records: readonly RunRecord[]): string[] => records.map((r) => r.runId);

const DAY = 86_400_000;
/** A window that holds every `at(…)` time the history tests use. */
const WIDE = { since: new Date(T0 - 40 * DAY), until: new Date(T0 + DAY), dayLimit: 100, scanLimit: 10_000 };

/** The history order: createdAt descending, then runId descending (UUIDs: byte order = string order). */
function newestFirst(records: readonly RunRecord[]): RunRecord[] {
  return [...records].sort(
    (a, b) =>
      Date.parse(b.createdAt) - Date.parse(a.createdAt) ||
      (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0),
  );
}

/** Pages through `query` until the store says nothing is left; every page and position is kept. */
async function pageAll(
  ledger: RunLedger,
  query: Omit<RunHistoryQuery, 'after'>,
  between?: (page: RunHistoryPage, n: number) => Promise<void>,
): Promise<{ runs: RunRecord[]; pages: RunHistoryPage[] }> {
  const runs: RunRecord[] = [];
  const pages: RunHistoryPage[] = [];
  let after: RunPosition | undefined;
  for (let n = 0; n < 10_000; n += 1) {
    const page = await ledger.listRuns({ ...query, ...(after === undefined ? {} : { after }) });
    pages.push(page);
    runs.push(...page.runs);
    assert.ok(page.runs.length <= query.limit, `page ${n} holds ${page.runs.length} > ${query.limit}`);
    if (page.next === undefined) return { runs, pages };
    await between?.(page, n);
    after = page.next;
  }
  throw new Error('paging did not end');
}

/**
 * Registers the one behaviour every RunLedger must show (run-ledger.ts): create-if-absent, compare-and-set,
 * lookups, and the due/open index. `makeLedger` is called once per test and must return an empty store.
 */
export function describeLedgerConformance(
  name: string,
  makeLedger: (observer: LedgerObserver) => Promise<LedgerUnderTest>,
): void {
  const withLedger =
    (fn: (subject: LedgerUnderTest, reported: UnreadableRecord[]) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const reported: UnreadableRecord[] = [];
      const subject = await makeLedger({ onUnreadable: (record) => reported.push(record) });
      try {
        await fn(subject, reported);
      } finally {
        await subject.ledger.close?.();
        await subject.cleanup();
      }
    };

  const withTwo =
    (fn: (a: RunLedger, b: RunLedger) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const subject = await makeLedger({});
      const b = subject.second === undefined ? subject.ledger : await subject.second();
      try {
        await fn(subject.ledger, b);
      } finally {
        if (b !== subject.ledger) await b.close?.();
        await subject.ledger.close?.();
        await subject.cleanup();
      }
    };

  describe(`${name}: RunLedger conformance`, () => {
    describe('create and get', () => {
      it(
        'stores a new record and get returns it unchanged',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord();
          const result = await ledger.create(record);
          assert.equal(result.created, true);
          assert.deepEqual(result.record, record);
          assert.deepEqual(await ledger.get(record.runId), record);
        }),
      );

      it(
        'answers undefined for a runId it has never seen',
        withLedger(async ({ ledger }) => {
          assert.equal(await ledger.get(randomUUID()), undefined);
        }),
      );

      it(
        'does not overwrite an existing run and hands back the stored record',
        withLedger(async ({ ledger }) => {
          const first = sampleRecord();
          await ledger.create(first);
          const second = { ...first, notebookId: 'other.ipynb', trigger: 'queue' as const };
          const result = await ledger.create(second);
          assert.equal(result.created, false);
          assert.deepEqual(result.record, first);
          assert.deepEqual(await ledger.get(first.runId), first);
        }),
      );

      it(
        `lets exactly one of ${RACERS} concurrent creates of one runId win`,
        withLedger(async ({ ledger }) => {
          const runId = randomUUID();
          const attempts = Array.from({ length: RACERS }, (_, i) => sampleRecord({ runId, checks: i }));
          const results = await Promise.all(attempts.map((r) => ledger.create(r)));
          const winners = results.filter((r) => r.created);
          assert.equal(winners.length, 1);
          const stored = await ledger.get(runId);
          assert.deepEqual(stored, winners[0]?.record);
          for (const result of results) assert.deepEqual(result.record, stored);
        }),
      );

      it(
        'lets exactly one create win when two ledger instances race on one runId',
        withTwo(async (a, b) => {
          const runId = randomUUID();
          const results = await Promise.all(
            Array.from({ length: RACERS }, (_, i) =>
              (i % 2 === 0 ? a : b).create(sampleRecord({ runId, checks: i })),
            ),
          );
          assert.equal(results.filter((r) => r.created).length, 1);
          assert.deepEqual(await b.get(runId), await a.get(runId));
        }),
      );

      it(
        'refuses to create a record whose version is not 1',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord({ version: 2 });
          await assert.rejects(
            ledger.create(record),
            (error) => isRunnerError(error) && error.code === 'LEDGER_ERROR',
          );
          assert.equal(await ledger.get(record.runId), undefined);
        }),
      );

      it(
        'refuses a nextCheckAt that is not a date',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord({ nextCheckAt: 'soon' });
          await assert.rejects(
            ledger.create(record),
            (error) => isRunnerError(error) && error.code === 'LEDGER_ERROR',
          );
        }),
      );

      it(
        'round-trips unicode, odd characters and long fields exactly',
        withLedger(async ({ ledger }) => {
          const long = 'ж🚀"\\\n\t\u0000'.repeat(2_000);
          const record = sampleRecord({
            runId: `run/../ü 🚀 ${randomUUID()}`,
            notebookId: 'папка/ноутбук «тест» 🚀.ipynb',
            request: {
              projectId: 'p1',
              notebookId: 'папка/ноутбук «тест» 🚀.ipynb',
              inputVariables: { КЛЮЧ: 'значение "в кавычках"\nи строка', RATIO: 0.1 + 0.2, OFF: false },
              outputVariableNames: ['a', 'б', '🚀'],
              spec: 'c1.4',
            },
            error: { code: 13, message: long },
            job: { name: 'nightly ночь', slot: at(0) },
            notifications: { webhook: { delivered: false, attempts: 2, lastError: long.slice(0, 500) } },
            operationId: `op-ü-${randomUUID()}`,
          });
          await ledger.create(record);
          assert.deepEqual(await ledger.get(record.runId), record);
          assert.deepEqual(await ledger.findByOperationId(record.operationId ?? ''), record);
          assert.deepEqual(await ledger.listOpen(), [record]);
          const next = await ledger.update({ ...record, notebookId: `${record.notebookId} ✓` });
          assert.deepEqual(await ledger.get(record.runId), next);
        }),
      );
    });

    describe('update (compare-and-set on version)', () => {
      it(
        'stores version + 1 and returns what it stored when the version matches',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord();
          await ledger.create(record);
          const updated = await ledger.update({ ...record, status: 'RUNNING', checks: 1 });
          assert.deepEqual(updated, { ...record, status: 'RUNNING', checks: 1, version: 2 });
          assert.deepEqual(await ledger.get(record.runId), updated);
          const again = await ledger.update({ ...(updated as RunRecord), checks: 2 });
          assert.equal(again?.version, 3);
          assert.equal((await ledger.get(record.runId))?.checks, 2);
        }),
      );

      it(
        'returns undefined and changes nothing when the version is stale or ahead',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord();
          await ledger.create(record);
          const v2 = await ledger.update({ ...record, checks: 1 });
          assert.ok(v2);
          assert.equal(await ledger.update({ ...record, checks: 99 }), undefined);
          assert.equal(await ledger.update({ ...record, checks: 99, version: 5 }), undefined);
          assert.deepEqual(await ledger.get(record.runId), v2);
        }),
      );

      it(
        'returns undefined for a run that does not exist',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord();
          assert.equal(await ledger.update(record), undefined);
          assert.equal(await ledger.get(record.runId), undefined);
        }),
      );

      it(
        `lets exactly one of ${RACERS} concurrent updates from the same version win`,
        withLedger(async ({ ledger }) => {
          const record = sampleRecord();
          await ledger.create(record);
          const results = await Promise.all(
            Array.from({ length: RACERS }, (_, i) => ledger.update({ ...record, checks: i + 1 })),
          );
          const winners = results.filter((r): r is RunRecord => r !== undefined);
          assert.equal(winners.length, 1);
          assert.equal(winners[0]?.version, 2);
          assert.deepEqual(await ledger.get(record.runId), winners[0]);
        }),
      );

      it(
        'lets exactly one update win when two ledger instances race from the same version',
        withTwo(async (a, b) => {
          const record = sampleRecord();
          await a.create(record);
          const results = await Promise.all(
            Array.from({ length: RACERS }, (_, i) =>
              (i % 2 === 0 ? a : b).update({ ...record, checks: i + 1 }),
            ),
          );
          const winners = results.filter((r): r is RunRecord => r !== undefined);
          assert.equal(winners.length, 1);
          assert.deepEqual(await b.get(record.runId), winners[0]);
          assert.deepEqual(await a.get(record.runId), winners[0]);
        }),
      );

      it(
        'keeps a chain of read-modify-write loops from two instances linear',
        withTwo(async (a, b) => {
          const record = sampleRecord();
          await a.create(record);
          const target = 12;
          const produced: number[] = [];
          const worker = async (ledger: RunLedger): Promise<void> => {
            for (;;) {
              const current = await ledger.get(record.runId);
              if (current === undefined || current.checks >= target) return;
              const next = await ledger.update({ ...current, checks: current.checks + 1 });
              if (next !== undefined) produced.push(next.version);
            }
          };
          await Promise.all([worker(a), worker(b), worker(a), worker(b)]);
          const final = await a.get(record.runId);
          assert.equal(final?.checks, target);
          assert.equal(final?.version, target + 1);
          assert.deepEqual(
            produced.sort((x, y) => x - y),
            Array.from({ length: target }, (_, i) => i + 2),
          );
        }),
      );
    });

    describe('findByOperationId', () => {
      it(
        'finds a run once an update sets its operationId, and follows a change of it',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord();
          await ledger.create(record);
          assert.equal(await ledger.findByOperationId('op-1'), undefined);
          const v2 = await ledger.update({ ...record, status: 'RUNNING', operationId: 'op-1' });
          assert.deepEqual(await ledger.findByOperationId('op-1'), v2);
          const v3 = await ledger.update({ ...(v2 as RunRecord), checks: 1 });
          assert.deepEqual(await ledger.findByOperationId('op-1'), v3);
          const v4 = await ledger.update({ ...(v3 as RunRecord), operationId: 'op-2' });
          assert.deepEqual(await ledger.findByOperationId('op-2'), v4);
          assert.equal(await ledger.findByOperationId('op-1'), undefined);
        }),
      );

      it(
        'finds a run created with an operationId and answers undefined for unknown ids',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord({ status: 'RUNNING', operationId: `op-${randomUUID()}` });
          await ledger.create(record);
          assert.deepEqual(await ledger.findByOperationId(record.operationId ?? ''), record);
          assert.equal(await ledger.findByOperationId('op-never-seen'), undefined);
        }),
      );

      it(
        'does not find an operationId written by an update that lost its compare-and-set',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord();
          await ledger.create(record);
          await ledger.update({ ...record, checks: 1 });
          assert.equal(await ledger.update({ ...record, operationId: 'op-lost' }), undefined);
          assert.equal(await ledger.findByOperationId('op-lost'), undefined);
        }),
      );
    });

    describe('listRuns (the run history)', () => {
      it(
        'lists the runs of [since, until) newest first, equal createdAt ordered by runId, nothing outside',
        withLedger(async ({ ledger }) => {
          const inside = [
            sampleRecord({ createdAt: at(-3 * DAY) }),
            sampleRecord({ createdAt: at(-1000) }),
            sampleRecord({ createdAt: at(-1000) }),
            sampleRecord({ createdAt: at(-1000) }),
            // The same instant written without milliseconds: stores order instants, not text.
            sampleRecord({ createdAt: '2030-05-01T11:59:00Z' }),
            finished(sampleRecord({ createdAt: at(-DAY - 5) }), 'FAILED'),
            sampleRecord({ createdAt: at(-2 * DAY) }), // exactly `since`: included
          ];
          const outside = [
            sampleRecord({ createdAt: at(-2 * DAY - 1) }),
            sampleRecord({ createdAt: at(0) }), // exactly `until`: excluded
            sampleRecord({ createdAt: at(DAY) }),
          ];
          for (const r of [...outside, ...inside]) await ledger.create(r);
          const query = {
            since: new Date(T0 - 2 * DAY),
            until: new Date(T0),
            limit: 50,
            scanLimit: 100,
            dayLimit: 10,
          };
          const page = await ledger.listRuns(query);
          assert.deepEqual(page.runs, newestFirst(inside.filter((r) => r.createdAt !== at(-3 * DAY))));
          assert.equal(page.next, undefined);
          assert.deepEqual(page.unreadable, []);
        }),
      );

      it(
        'pages through 57 runs exactly once, newest first, with pages that cut through equal createdAt',
        withLedger(async ({ ledger }) => {
          const records = Array.from({ length: 57 }, (_, i) =>
            // Groups of 5 share one instant; the groups are spread over four days.
            sampleRecord({ createdAt: at(-Math.floor(i / 5) * 7 * 3_600_000) }),
          );
          await Promise.all(records.map((r) => ledger.create(r)));
          const expected = ids(newestFirst(records));
          for (const limit of [1, 3, 7, 100]) {
            const { runs, pages } = await pageAll(ledger, { ...WIDE, limit });
            assert.deepEqual(ids(runs), expected, `limit ${limit}`);
            assert.ok(pages.length >= Math.ceil(57 / limit), `limit ${limit}: ${pages.length} pages`);
          }
        }),
      );

      it(
        'examines at most scanLimit entries per call and continues from where it stopped',
        withLedger(async ({ ledger }) => {
          const records = Array.from({ length: 30 }, (_, i) =>
            sampleRecord({
              createdAt: at(-i * 60_000),
              notebookId: i % 13 === 4 ? 'rare.ipynb' : 'nb.ipynb',
            }),
          );
          await Promise.all(records.map((r) => ledger.create(r)));
          const perCall: number[] = [];
          let examined = 0;
          const { runs, pages } = await pageAll(
            ledger,
            {
              ...WIDE,
              limit: 10,
              scanLimit: 4,
              matchEntry: (entry) => {
                examined += 1;
                return entry.notebookId === 'rare.ipynb';
              },
            },
            async () => {
              perCall.push(examined);
              examined = 0;
            },
          );
          perCall.push(examined);
          assert.deepEqual(ids(runs), ids(newestFirst(records.filter((r) => r.notebookId === 'rare.ipynb'))));
          assert.ok(
            perCall.every((n) => n <= 4),
            `entries examined per call: ${perCall.join(',')}`,
          );
          assert.ok(pages.length >= 8, `${pages.length} pages`);
        }),
      );

      it(
        'filters on the entry (facts that never change) and on the record (status), within the window',
        withLedger(async ({ ledger }) => {
          const a = sampleRecord({ createdAt: at(-5_000), projectId: 'pa', trigger: 'queue' });
          const b = sampleRecord({
            createdAt: at(-4_000),
            projectId: 'pb',
            job: { name: 'nightly', slot: at(0) },
          });
          const c = finished(sampleRecord({ createdAt: at(-3_000), projectId: 'pa' }), 'FAILED');
          const d = sampleRecord({ createdAt: at(-2_000), projectId: 'pa', action: 'open' });
          for (const r of [a, b, c, d]) await ledger.create(r);
          const list = async (q: Partial<RunHistoryQuery>) =>
            ids((await ledger.listRuns({ ...WIDE, limit: 10, ...q })).runs);
          assert.deepEqual(await list({ matchEntry: (e) => e.projectId === 'pa' }), ids([d, c, a]));
          assert.deepEqual(await list({ matchEntry: (e) => e.trigger === 'queue' }), ids([a]));
          assert.deepEqual(await list({ matchEntry: (e) => e.job === 'nightly' }), ids([b]));
          assert.deepEqual(await list({ matchEntry: (e) => e.action === 'open' }), ids([d]));
          assert.deepEqual(await list({ matchEntry: (e) => e.action === 'execute' }), ids([c, b, a]));
          assert.deepEqual(await list({ match: (r) => r.status === 'FAILED' }), ids([c]));
          assert.deepEqual(
            await list({ matchEntry: (e) => e.projectId === 'pa', match: (r) => r.status !== 'FAILED' }),
            ids([d, a]),
          );
        }),
      );

      it(
        'visits at most dayLimit days per call, then continues from the day boundary it reached',
        withLedger(async ({ ledger }) => {
          // Runs on days 0, 1, 4 and 9 back; the days between are empty.
          const records = [0, 1, 1, 4, 9, 9].map((day, i) =>
            sampleRecord({ createdAt: at(-day * DAY - 3_600_000 - i) }),
          );
          for (const r of records) await ledger.create(r);
          const { runs, pages } = await pageAll(ledger, {
            ...WIDE,
            since: new Date(T0 - 12 * DAY),
            limit: 50,
            dayLimit: 3,
          });
          assert.deepEqual(ids(runs), ids(newestFirst(records)));
          // 13 day buckets, 3 per call: 5 calls, and no call answers runs of more than 3 days.
          assert.equal(pages.length, 5);
          for (const page of pages) {
            const days = new Set(page.runs.map((r) => r.createdAt.slice(0, 10)));
            assert.ok(days.size <= 3);
          }
          assert.deepEqual(
            pages.map((p) => p.runs.length),
            [3, 1, 0, 2, 0],
          );
        }),
      );

      it(
        'keeps paging exact while runs are created and updated between the pages',
        withLedger(async ({ ledger }) => {
          const records = Array.from({ length: 24 }, (_, i) =>
            sampleRecord({ createdAt: at(-Math.floor(i / 3) * 60_000 - 60_000) }),
          );
          for (const r of records) await ledger.create(r);
          const added: RunRecord[] = [];
          const { runs } = await pageAll(
            ledger,
            { ...WIDE, until: new Date(T0 + DAY), limit: 5 },
            async (page) => {
              // New runs: one newer than everything (not seen by this paging: it started before them), one
              // at the same instant as the position reached, one older than it (both in the unread part).
              const position = page.next as RunPosition;
              const fresh = [
                sampleRecord({ createdAt: at(30_000) }),
                sampleRecord({ createdAt: new Date(position.createdAt).toISOString() }),
                sampleRecord({ createdAt: new Date(position.createdAt - 1).toISOString() }),
              ];
              for (const r of fresh) await ledger.create(r);
              added.push(...fresh);
              // Updates move nothing: createdAt never changes.
              for (const r of page.runs) {
                const current = (await ledger.get(r.runId)) as RunRecord;
                await ledger.update(finished({ ...current, checks: current.checks + 1 }));
              }
            },
          );
          const seen = ids(runs);
          assert.equal(new Set(seen).size, seen.length, 'a run was answered twice');
          for (const r of records) assert.ok(seen.includes(r.runId), `run ${r.runId} was never answered`);
          for (const r of added.filter((x) => x.createdAt === at(30_000))) assert.ok(!seen.includes(r.runId));
          const older = added.filter((_record, i) => i % 3 === 2);
          for (const r of older)
            assert.ok(seen.includes(r.runId), 'an older run created meanwhile was missed');
          // Newest first throughout.
          const times = runs.map((r) => Date.parse(r.createdAt));
          assert.deepEqual(
            times,
            [...times].sort((x, y) => y - x),
          );
        }),
      );

      it(
        'answers each run once, with its latest content, after updates and from a second instance',
        withTwo(async (a, b) => {
          const one = sampleRecord({ createdAt: at(-2_000) });
          const two = sampleRecord({ createdAt: at(-1_000) });
          await a.create(one);
          await b.create(two);
          const oneDone = await b.update(finished({ ...one, checks: 3 }));
          const page = await a.listRuns({ ...WIDE, limit: 10 });
          assert.deepEqual(page.runs, [two, oneDone]);
          assert.equal(page.next, undefined);
        }),
      );

      it(
        'answers an empty page and no position for an empty window',
        withLedger(async ({ ledger }) => {
          await ledger.create(sampleRecord({ createdAt: at(-10 * DAY) }));
          const page = await ledger.listRuns({ ...WIDE, since: new Date(T0 - 2 * DAY), limit: 20 });
          assert.deepEqual(page, { runs: [], next: undefined, unreadable: [] });
        }),
      );

      it(
        'refuses to create a run whose createdAt is not an ISO date',
        withLedger(async ({ ledger }) => {
          const record = sampleRecord({ createdAt: 'yesterday' });
          await assert.rejects(
            ledger.create(record),
            (error) =>
              isRunnerError(error) && error.code === 'LEDGER_ERROR' && error.message.includes('createdAt'),
          );
          assert.equal(await ledger.get(record.runId), undefined);
        }),
      );

      it(
        'refuses a query without a positive limit',
        withLedger(async ({ ledger }) => {
          await assert.rejects(
            ledger.listRuns({ ...WIDE, limit: 0 }),
            (error) => isRunnerError(error) && error.code === 'LEDGER_ERROR',
          );
        }),
      );
    });

    describe('listDue and listOpen', () => {
      it(
        'lists only runs due by the given time, oldest nextCheckAt first, never finished ones',
        withLedger(async ({ ledger }) => {
          const late = sampleRecord({ nextCheckAt: at(-1_000) });
          const oldest = sampleRecord({ nextCheckAt: at(-180_000) });
          // Same instant as `at(0)` would be, written without milliseconds: stores compare instants.
          const exact = sampleRecord({ nextCheckAt: '2030-05-01T12:00:00Z' });
          const middle = sampleRecord({ nextCheckAt: at(-60_000) });
          const future = sampleRecord({ nextCheckAt: at(60_000) });
          const done = finished(sampleRecord({ nextCheckAt: at(-500_000) }));
          for (const r of [late, oldest, exact, middle, future, done]) await ledger.create(r);

          const due = await ledger.listDue(new Date(T0), 10);
          assert.deepEqual(ids(due), ids([oldest, middle, late, exact]));
          assert.deepEqual(due[0], oldest);
          assert.deepEqual(ids(await ledger.listDue(new Date(T0), 2)), ids([oldest, middle]));
          assert.deepEqual(ids(await ledger.listDue(new Date(T0 - 120_000), 10)), ids([oldest]));
          assert.deepEqual(await ledger.listDue(new Date(T0), 0), []);
        }),
      );

      it(
        'respects the limit across many due runs',
        withLedger(async ({ ledger }) => {
          const records = Array.from({ length: 25 }, (_, i) => sampleRecord({ nextCheckAt: at(-i * 1000) }));
          await Promise.all(records.map((r) => ledger.create(r)));
          const due = await ledger.listDue(new Date(T0), 20);
          const expected = [...records].reverse().slice(0, 20);
          assert.deepEqual(ids(due), ids(expected));
        }),
      );

      it(
        'drops a run from listDue and listOpen once an update removes its nextCheckAt',
        withLedger(async ({ ledger }) => {
          const a = sampleRecord({ nextCheckAt: at(-2_000) });
          const b = sampleRecord({ nextCheckAt: at(-1_000) });
          await ledger.create(a);
          await ledger.create(b);
          assert.deepEqual(ids(await ledger.listDue(new Date(T0), 10)), ids([a, b]));

          const aDone = await ledger.update(finished(a));
          assert.ok(aDone);
          assert.deepEqual(ids(await ledger.listDue(new Date(T0), 10)), ids([b]));
          assert.deepEqual(ids(await ledger.listOpen()), ids([b]));
          assert.deepEqual(await ledger.get(a.runId), aDone);
        }),
      );

      it(
        'moves a run in the due order when an update changes its nextCheckAt',
        withLedger(async ({ ledger }) => {
          const a = sampleRecord({ nextCheckAt: at(-2_000) });
          const b = sampleRecord({ nextCheckAt: at(-1_000) });
          await ledger.create(a);
          await ledger.create(b);

          const aLater = await ledger.update({ ...a, nextCheckAt: at(30_000), checks: 1 });
          assert.deepEqual(await ledger.listDue(new Date(T0), 10), [b]);
          assert.deepEqual(await ledger.listDue(new Date(T0 + 30_000), 10), [b, aLater]);

          const aEarlier = await ledger.update({ ...(aLater as RunRecord), nextCheckAt: at(-9_000) });
          assert.deepEqual(await ledger.listDue(new Date(T0), 10), [aEarlier, b]);
          assert.deepEqual(await ledger.listOpen(), [aEarlier, b]);
        }),
      );

      it(
        'lists every run that still carries nextCheckAt, however far in the future, and none that do not',
        withLedger(async ({ ledger }) => {
          const soon = sampleRecord({ nextCheckAt: at(-5_000) });
          const farAway = sampleRecord({ nextCheckAt: at(365 * 86_400_000) });
          const done = finished(sampleRecord(), 'FAILED');
          for (const r of [farAway, done, soon]) await ledger.create(r);
          assert.deepEqual(await ledger.listOpen(), [soon, farAway]);
          assert.deepEqual(await ledger.listDue(new Date(T0), 10), [soon]);
        }),
      );

      it(
        'answers empty lists on an empty ledger',
        withLedger(async ({ ledger }) => {
          assert.deepEqual(await ledger.listDue(new Date(T0), 10), []);
          assert.deepEqual(await ledger.listOpen(), []);
        }),
      );

      it(
        'shows a second instance what the first one wrote',
        withTwo(async (a, b) => {
          const record = sampleRecord({ nextCheckAt: at(-1_000) });
          await a.create(record);
          assert.deepEqual(await b.listDue(new Date(T0), 10), [record]);
          const v2 = await b.update(finished(record));
          assert.deepEqual(await a.listOpen(), []);
          assert.deepEqual(await a.get(record.runId), v2);
        }),
      );
    });

    describe('unreadable records', () => {
      it(
        'sets an unreadable record aside: listings go on with the others, it is reported once, its get fails',
        withLedger(async ({ ledger, corrupt }, reported) => {
          if (corrupt === undefined) return;
          const records = [0, 1, 2].map((i) => sampleRecord({ nextCheckAt: at(i * 1_000) }));
          for (const record of records) await ledger.create(record);
          const damaged = records[1] as RunRecord;
          await corrupt(damaged.runId, '{"runId": "cut off');
          const others = [records[0], records[2]] as RunRecord[];
          assert.deepEqual(await ledger.listDue(new Date(T0 + 10_000), 10), others);
          assert.deepEqual(await ledger.listOpen(), others);
          assert.deepEqual(await ledger.listDue(new Date(T0 + 10_000), 10), others);
          assert.equal(reported.length, 1, 'reported once, not on every listing');
          assert.equal(reported[0]?.runId, damaged.runId);
          assert.match(reported[0]?.location ?? '', new RegExp(damaged.runId.replace(/-/g, '.')));
          assert.match(reported[0]?.reason ?? '', /JSON/);
          await assert.rejects(ledger.get(damaged.runId), (error) => isUnreadableRecord(error));
          // Fail closed: the key is still taken, a create does not start the run afresh.
          await assert.rejects(ledger.create(sampleRecord({ runId: damaged.runId })));
          assert.deepEqual(await ledger.get(records[0]?.runId ?? ''), records[0]);
        }),
      );

      it(
        'treats JSON that is not a run record as unreadable too',
        withLedger(async ({ ledger, corrupt }, reported) => {
          if (corrupt === undefined) return;
          const record = sampleRecord();
          await ledger.create(record);
          await corrupt(record.runId, JSON.stringify({ ...record, status: 'PAUSED' }));
          assert.deepEqual(await ledger.listOpen(), []);
          assert.equal(reported.length, 1);
          assert.match(reported[0]?.reason ?? '', /status/);
        }),
      );
    });

    describe('concurrency slots', () => {
      const scope = (): string => `project:p1/folder/nb-${randomUUID()}.ipynb`;

      it(
        'takes a free slot, names its holder to others, and lets the holder take it again',
        withLedger(async ({ ledger }) => {
          const s = scope();
          assert.equal(await ledger.getSlot(s), undefined);
          const first = await ledger.acquireSlot(s, 'run-a', at(0));
          assert.deepEqual(first, { acquired: true, slot: { scope: s, holder: 'run-a', since: at(0) } });
          assert.deepEqual(await ledger.getSlot(s), first.slot);
          const other = await ledger.acquireSlot(s, 'run-b', at(1_000));
          assert.deepEqual(other, { acquired: false, slot: first.slot });
          const again = await ledger.acquireSlot(s, 'run-a', at(2_000));
          assert.deepEqual(again, { acquired: true, slot: first.slot });
          assert.deepEqual(await ledger.getSlot(scope()), undefined, 'scopes are independent');
        }),
      );

      it(
        `lets exactly one of ${RACERS} concurrent acquires of a free slot win`,
        withLedger(async ({ ledger }) => {
          const s = scope();
          const claims = await Promise.all(
            Array.from({ length: RACERS }, (_, i) => ledger.acquireSlot(s, `racer-${i}`, at(i))),
          );
          const winners = claims.filter((claim) => claim.acquired);
          assert.equal(winners.length, 1);
          const holder = winners[0]?.slot.holder;
          for (const claim of claims) assert.equal(claim.slot.holder, holder);
          assert.equal((await ledger.getSlot(s))?.holder, holder);
        }),
      );

      it(
        `lets exactly one of ${RACERS} acquires win when two ledger instances race`,
        withTwo(async (a, b) => {
          const s = scope();
          const claims = await Promise.all(
            Array.from({ length: RACERS }, (_, i) =>
              (i % 2 === 0 ? a : b).acquireSlot(s, `racer-${i}`, at(i)),
            ),
          );
          assert.equal(claims.filter((claim) => claim.acquired).length, 1);
          assert.deepEqual(await a.getSlot(s), await b.getSlot(s));
        }),
      );

      it(
        'frees a slot only for its holder',
        withLedger(async ({ ledger }) => {
          const s = scope();
          await ledger.acquireSlot(s, 'run-a', at(0));
          assert.equal(await ledger.releaseSlot(s, 'run-b'), false);
          assert.equal((await ledger.getSlot(s))?.holder, 'run-a');
          assert.equal(await ledger.releaseSlot(s, 'run-a'), true);
          assert.equal(await ledger.getSlot(s), undefined);
          assert.equal(await ledger.releaseSlot(s, 'run-a'), false);
          assert.equal((await ledger.acquireSlot(s, 'run-b', at(1_000))).acquired, true);
        }),
      );

      it(
        'hands a slot over only from its holder (compare-and-set), never when it is free',
        withLedger(async ({ ledger }) => {
          const s = scope();
          assert.equal(await ledger.transferSlot(s, 'run-a', 'run-b', at(0)), undefined);
          assert.equal(await ledger.getSlot(s), undefined, 'a transfer never creates a slot');
          await ledger.acquireSlot(s, 'run-a', at(0));
          assert.equal(await ledger.transferSlot(s, 'run-x', 'run-b', at(1_000)), undefined);
          assert.equal((await ledger.getSlot(s))?.holder, 'run-a');
          const moved = await ledger.transferSlot(s, 'run-a', 'run-b', at(2_000));
          assert.deepEqual(moved, { scope: s, holder: 'run-b', since: at(2_000) });
          assert.deepEqual(await ledger.getSlot(s), moved);
          assert.equal(await ledger.releaseSlot(s, 'run-a'), false, 'the old holder cannot free it any more');
        }),
      );

      it(
        `lets exactly one of ${RACERS} concurrent transfers from one holder win (queue and replace build on this)`,
        withTwo(async (a, b) => {
          const s = scope();
          await a.acquireSlot(s, 'holder', at(0));
          const moves = await Promise.all(
            Array.from({ length: RACERS }, (_, i) =>
              (i % 2 === 0 ? a : b).transferSlot(s, 'holder', `next-${i}`, at(i)),
            ),
          );
          const won = moves.filter((slot) => slot !== undefined);
          assert.equal(won.length, 1);
          assert.deepEqual(await b.getSlot(s), won[0]);
        }),
      );

      it(
        `after a release, exactly one of ${RACERS} racers gets the slot`,
        withLedger(async ({ ledger }) => {
          const s = scope();
          await ledger.acquireSlot(s, 'first', at(0));
          const [freed, ...claims] = await Promise.all([
            ledger.releaseSlot(s, 'first'),
            ...Array.from({ length: RACERS }, (_, i) => ledger.acquireSlot(s, `racer-${i}`, at(i))),
          ]);
          assert.equal(freed, true);
          const winners = claims.filter((claim) => claim.acquired);
          assert.ok(winners.length <= 1, `${winners.length} holders at once`);
          const holder = (await ledger.getSlot(s))?.holder;
          if (winners.length === 1) assert.equal(holder, winners[0]?.slot.holder);
          else assert.equal(holder, undefined);
        }),
      );

      it(
        'refuses an empty scope or holder',
        withLedger(async ({ ledger }) => {
          const ledgerError = (error: unknown) => isRunnerError(error) && error.code === 'LEDGER_ERROR';
          await assert.rejects(ledger.acquireSlot('', 'run-a', at(0)), ledgerError);
          await assert.rejects(ledger.acquireSlot(scope(), '', at(0)), ledgerError);
          await assert.rejects(ledger.transferSlot(scope(), 'run-a', '', at(0)), ledgerError);
        }),
      );
    });
  });
}
