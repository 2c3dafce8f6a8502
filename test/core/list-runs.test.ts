import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  decodeCursor,
  encodeCursor,
  LIST_DAY_LIMIT,
  LIST_SCAN_LIMIT,
  type ListRunsDeps,
  type ListRunsQuery,
  listRuns,
} from '../../shared/core/list-runs.ts';
import type { RunRecord } from '../../shared/core/run-record.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import type { RunHistoryQuery } from '../../shared/ledger/run-history.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { createLogger } from '../../shared/log.ts';
import { sampleRecord } from '../ledger/ledger-conformance.ts';

const NOW = Date.parse('2030-05-01T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();

function setup(ledger: RunLedger = createInMemoryLedger()) {
  const lines: Record<string, unknown>[] = [];
  const deps: ListRunsDeps = {
    ledger,
    now: () => new Date(NOW),
    log: createLogger({ write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }),
  };
  return { ledger, deps, lines };
}

/** A ledger that notes every history query it is asked. */
function recordingLedger(asked: RunHistoryQuery[]): RunLedger {
  const inner = createInMemoryLedger();
  return {
    ...inner,
    listRuns: async (query) => {
      asked.push(query);
      return inner.listRuns(query);
    },
  };
}

const invalid = (field: string) => (error: unknown) =>
  isRunnerError(error) &&
  error.code === 'INVALID_REQUEST' &&
  (error.details as { field?: unknown } | undefined)?.field === field;

async function pageThrough(query: ListRunsQuery, deps: ListRunsDeps) {
  const runs: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await listRuns({ ...query, ...(cursor === undefined ? {} : { cursor }) }, deps);
    runs.push(...page.runs.map((r) => r.runId));
    cursor = page.nextCursor ?? undefined;
    pages += 1;
  } while (cursor !== undefined && pages < 1000);
  return { runs, pages };
}

describe('listRuns (the run history use case)', () => {
  it('answers public records newest first, 20 by default, over the last 30 days, with a cursor to go on', async () => {
    const asked: RunHistoryQuery[] = [];
    const { deps, ledger } = setup(recordingLedger(asked));
    const records = Array.from({ length: 25 }, (_, i) =>
      sampleRecord({ createdAt: iso(NOW - i * 3_600_000) }),
    );
    for (const r of records) await ledger.create(r);
    await ledger.create(sampleRecord({ createdAt: iso(NOW - 31 * DAY) }));

    const page = await listRuns({}, deps);
    assert.equal(page.runs.length, 20);
    assert.deepEqual(
      page.runs.map((r) => r.runId),
      records.slice(0, 20).map((r) => r.runId),
    );
    // Public view only: no request, dedupe key, version, nextCheckAt or start bookkeeping.
    const first = page.runs[0] as unknown as Record<string, unknown>;
    for (const hidden of ['request', 'dedupeKey', 'requestHash', 'version', 'nextCheckAt', 'startSentAt']) {
      assert.equal(first[hidden], undefined, hidden);
    }
    assert.equal(typeof page.nextCursor, 'string');
    assert.deepEqual(asked[0], {
      since: new Date(NOW + 60_000 - 30 * DAY),
      until: new Date(NOW + 60_000),
      limit: 20,
      scanLimit: LIST_SCAN_LIMIT,
      dayLimit: LIST_DAY_LIMIT,
    });

    const rest = await listRuns({ cursor: page.nextCursor ?? '' }, deps);
    assert.deepEqual(
      rest.runs.map((r) => r.runId),
      records.slice(20).map((r) => r.runId),
    );
    assert.equal(rest.nextCursor, null);
  });

  it('keeps the window of the first page for the whole paging, while the clock moves on', async () => {
    const { ledger } = setup();
    let now = NOW;
    const deps: ListRunsDeps = { ...setup(ledger).deps, now: () => new Date(now) };
    const records = Array.from({ length: 9 }, (_, i) => sampleRecord({ createdAt: iso(NOW - i * 60_000) }));
    for (const r of records) await ledger.create(r);
    const first = await listRuns({ limit: 4 }, deps);
    now += 10 * DAY;
    await ledger.create(sampleRecord({ createdAt: iso(NOW + DAY) }));
    const second = await listRuns({ limit: 4, cursor: first.nextCursor ?? '' }, deps);
    const third = await listRuns({ limit: 4, cursor: second.nextCursor ?? '' }, deps);
    assert.deepEqual(
      [...first.runs, ...second.runs, ...third.runs].map((r) => r.runId),
      records.map((r) => r.runId),
    );
  });

  it('applies every filter: statuses, project, notebook, job, trigger, action, since and until', async () => {
    const { deps, ledger } = setup();
    const make = (hoursAgo: number, fields: Partial<RunRecord>) =>
      sampleRecord({ createdAt: iso(NOW - hoursAgo * 3_600_000), ...fields });
    const failed = make(1, { status: 'FAILED', projectId: 'pa' });
    const timedOut = make(2, {
      status: 'TIMED_OUT',
      projectId: 'pb',
      trigger: 'schedule',
      job: { name: 'nightly', slot: iso(NOW) },
    });
    const running = make(3, {
      status: 'RUNNING',
      projectId: 'pa',
      notebookId: 'other.ipynb',
      trigger: 'queue',
    });
    const { notebookId: _n, ...openFields } = make(4, {
      status: 'SUCCEEDED',
      projectId: 'pa',
      action: 'open',
    });
    const opened: RunRecord = openFields;
    const old = make(24 * 5, { status: 'FAILED', projectId: 'pa' });
    for (const r of [failed, timedOut, running, opened, old]) await ledger.create(r);
    const ids = async (query: ListRunsQuery) => (await listRuns(query, deps)).runs.map((r) => r.runId);

    assert.deepEqual(await ids({ status: ['FAILED', 'TIMED_OUT'] }), [
      failed.runId,
      timedOut.runId,
      old.runId,
    ]);
    assert.deepEqual(await ids({ projectId: 'pa' }), [failed.runId, running.runId, opened.runId, old.runId]);
    assert.deepEqual(await ids({ notebookId: 'other.ipynb' }), [running.runId]);
    assert.deepEqual(await ids({ job: 'nightly' }), [timedOut.runId]);
    assert.deepEqual(await ids({ trigger: 'queue' }), [running.runId]);
    assert.deepEqual(await ids({ action: 'open' }), [opened.runId]);
    assert.deepEqual(await ids({ action: 'execute', projectId: 'pa', status: ['FAILED'] }), [
      failed.runId,
      old.runId,
    ]);
    assert.deepEqual(await ids({ since: new Date(NOW - 3.5 * 3_600_000) }), [
      failed.runId,
      timedOut.runId,
      running.runId,
    ]);
    assert.deepEqual(await ids({ since: new Date(NOW - 10 * DAY), until: new Date(NOW - 2.5 * 3_600_000) }), [
      running.runId,
      opened.runId,
      old.runId,
    ]);
  });

  it('leaves out runs of projects the authorization seam refuses, before reading their records', async () => {
    const { deps, ledger } = setup();
    const mine = sampleRecord({ createdAt: iso(NOW - 1000), projectId: 'mine' });
    const theirs = sampleRecord({ createdAt: iso(NOW - 2000), projectId: 'theirs' });
    await ledger.create(mine);
    await ledger.create(theirs);
    const page = await listRuns({ projectAllowed: (p) => p === 'mine' }, deps);
    assert.deepEqual(
      page.runs.map((r) => r.runId),
      [mine.runId],
    );
  });

  it('pages through a rare filter in bounded steps: short pages with a cursor, every match once', async () => {
    const asked: RunHistoryQuery[] = [];
    const { deps, ledger } = setup(recordingLedger(asked));
    const records = Array.from({ length: 1_200 }, (_, i) =>
      sampleRecord({ createdAt: iso(NOW - i * 60_000), status: i % 400 === 7 ? 'FAILED' : 'SUCCEEDED' }),
    );
    for (const r of records) await ledger.create(r);
    const { runs, pages } = await pageThrough({ status: ['FAILED'], limit: 100 }, deps);
    assert.deepEqual(
      runs,
      records.filter((r) => r.status === 'FAILED').map((r) => r.runId),
    );
    assert.ok(pages >= 3, `${pages} pages`);
    assert.ok(asked.every((q) => q.scanLimit === LIST_SCAN_LIMIT));
  });

  it('refuses a bad limit, a reversed or too wide window, naming the field', async () => {
    const { deps } = setup();
    await assert.rejects(listRuns({ limit: 0 }, deps), invalid('limit'));
    await assert.rejects(listRuns({ limit: 101 }, deps), invalid('limit'));
    await assert.rejects(listRuns({ limit: 2.5 }, deps), invalid('limit'));
    await assert.rejects(
      listRuns({ since: new Date(NOW), until: new Date(NOW - 1) }, deps),
      invalid('since'),
    );
    await assert.rejects(
      listRuns({ since: new Date(NOW - 367 * DAY), until: new Date(NOW) }, deps),
      invalid('since'),
    );
    await assert.rejects(listRuns({ until: new Date(Number.NaN) }, deps), invalid('until'));
    await assert.rejects(listRuns({ status: [] }, deps), invalid('status'));
    await assert.rejects(listRuns({ trigger: 'cron' as never }, deps), invalid('trigger'));
  });

  it('refuses a tampered, truncated or foreign cursor with INVALID_REQUEST naming cursor', async () => {
    const { deps, ledger } = setup();
    for (let i = 0; i < 5; i += 1) await ledger.create(sampleRecord({ createdAt: iso(NOW - i * 1000) }));
    const { nextCursor } = await listRuns({ limit: 2 }, deps);
    assert.ok(nextCursor !== null);
    const state = JSON.parse(Buffer.from(nextCursor, 'base64url').toString('utf8')) as unknown[];
    const edited = [...state];
    edited[3] = (edited[3] as number) - 1;
    const cases = [
      'not-a-cursor',
      nextCursor.slice(0, -3),
      `${nextCursor}A`,
      'a'.repeat(2000),
      Buffer.from(JSON.stringify(edited)).toString('base64url'),
      Buffer.from('{"v":1}').toString('base64url'),
      '!!!',
    ];
    for (const cursor of cases) {
      await assert.rejects(listRuns({ limit: 2, cursor }, deps), invalid('cursor'), cursor);
    }
  });

  it('refuses a cursor used with other filters or another window', async () => {
    const { deps, ledger } = setup();
    for (let i = 0; i < 5; i += 1) await ledger.create(sampleRecord({ createdAt: iso(NOW - i * 1000) }));
    const since = new Date(NOW - DAY);
    const { nextCursor } = await listRuns({ limit: 2, projectId: 'p1', since }, deps);
    const cursor = nextCursor ?? '';
    await assert.rejects(listRuns({ cursor, projectId: 'p2', since }, deps), invalid('cursor'));
    await assert.rejects(listRuns({ cursor, since }, deps), invalid('cursor'));
    await assert.rejects(
      listRuns({ cursor, projectId: 'p1', since: new Date(NOW - 2 * DAY) }, deps),
      invalid('cursor'),
    );
    // Repeating the query (or leaving since out: the cursor carries the window) goes on.
    assert.equal((await listRuns({ limit: 2, cursor, projectId: 'p1', since }, deps)).runs.length, 2);
    assert.equal((await listRuns({ limit: 2, cursor, projectId: 'p1' }, deps)).runs.length, 2);
  });

  it('round-trips a cursor, including an odd key and a day boundary', () => {
    for (const position of [
      { createdAt: NOW - 5, key: randomUUID() },
      { createdAt: NOW - DAY, key: '' },
      { createdAt: NOW - 7, key: '~ü "quoted" 🚀' },
    ]) {
      const state = { since: NOW - 30 * DAY, until: NOW, position, filters: 'abc' };
      assert.deepEqual(decodeCursor(encodeCursor(state)), state);
    }
  });

  it('logs a record the ledger could not read, and answers the others', async () => {
    const inner = createInMemoryLedger();
    const good = sampleRecord({ createdAt: iso(NOW - 1000) });
    await inner.create(good);
    const ledger: RunLedger = {
      ...inner,
      listRuns: async (query) => ({
        ...(await inner.listRuns(query)),
        unreadable: [{ ref: 'r-bad', reason: 'not JSON' }],
      }),
    };
    const { deps, lines } = setup(ledger);
    const page = await listRuns({}, deps);
    assert.deepEqual(
      page.runs.map((r) => r.runId),
      [good.runId],
    );
    const line = lines.find((l) => l.msg === 'run history: a record could not be read and was left out');
    assert.equal(line?.record, 'r-bad');
    assert.equal(line?.level, 'WARN');
  });
});
