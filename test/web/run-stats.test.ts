import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RUN_STATUSES } from '../../shared/core/run-record.ts';
import {
  durationMs,
  formatDuration,
  localDayKey,
  percentile,
  summarizeRuns,
  windowStart,
} from '../../web/page/run-stats.ts';
import { ACTIVE_STATUSES, STATUS_SIGN, STATUSES } from '../../web/page/run-status.ts';
import type { RunView } from '../../web/page/run-types.ts';

/** Local noon of a day relative to `base` (noon keeps a run inside its day in any time zone offset). */
const at = (base: Date, dayOffset: number, hour = 12, minute = 0) =>
  new Date(base.getFullYear(), base.getMonth(), base.getDate() + dayOffset, hour, minute);

const run = (created: Date, status: string, seconds?: number, startedAfter = 0): RunView => ({
  runId: `r-${created.getTime()}-${status}-${seconds}`,
  projectId: 'p1',
  status,
  createdAt: created.toISOString(),
  ...(startedAfter > 0 ? { startedAt: new Date(created.getTime() + startedAfter * 1000).toISOString() } : {}),
  ...(seconds === undefined
    ? {}
    : { finishedAt: new Date(created.getTime() + (startedAfter + seconds) * 1000).toISOString() }),
});

describe('the console chart figures (web/page/run-stats.ts)', () => {
  it('knows every status of the core, each with a sign, so no status is told by colour alone', () => {
    assert.deepEqual([...STATUSES], [...RUN_STATUSES]);
    for (const status of RUN_STATUSES) assert.ok(STATUS_SIGN[status].length > 0, status);
    assert.equal(new Set(Object.values(STATUS_SIGN)).size, RUN_STATUSES.length, 'signs are distinct');
    assert.deepEqual([...ACTIVE_STATUSES].sort(), ['QUEUED', 'RUNNING', 'STARTING']);
  });

  it('takes nearest-rank percentiles', () => {
    assert.equal(percentile([], 50), undefined);
    assert.equal(percentile([7], 95), 7);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 95), 95);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 95), 4);
  });

  it('measures a run from its start (not its queueing) to its end, and only finished runs', () => {
    const created = new Date('2025-06-01T10:00:00Z');
    assert.equal(durationMs(run(created, 'SUCCEEDED', 90)), 90_000);
    assert.equal(durationMs(run(created, 'SUCCEEDED', 90, 30)), 90_000, 'queued 30 s before the start');
    assert.equal(durationMs(run(created, 'RUNNING')), undefined);
    assert.equal(durationMs({ ...run(created, 'FAILED', 1), finishedAt: 'not a time' }), undefined);
  });

  it('covers today and the six days before it, in local days', () => {
    const now = new Date(2025, 5, 10, 15, 30);
    const start = windowStart(now);
    assert.equal(localDayKey(start), '2025-06-04');
    assert.equal(start.getHours(), 0);
    const stats = summarizeRuns([], now);
    assert.deepEqual(
      stats.days.map((d) => d.key),
      ['2025-06-04', '2025-06-05', '2025-06-06', '2025-06-07', '2025-06-08', '2025-06-09', '2025-06-10'],
    );
    assert.equal(stats.runs, 0);
    assert.equal(stats.p50, undefined);
  });

  it('counts runs per day by status, and p50/p95 of the finished ones per day and overall', () => {
    const now = new Date(2025, 5, 10, 18, 0);
    const runs: RunView[] = [
      // today: 3 succeeded (60, 120, 600 s), 1 failed (30 s), 1 running
      run(at(now, 0, 9), 'SUCCEEDED', 60),
      run(at(now, 0, 10), 'SUCCEEDED', 120),
      run(at(now, 0, 11), 'SUCCEEDED', 600),
      run(at(now, 0, 12), 'FAILED', 30),
      run(at(now, 0, 13), 'RUNNING'),
      // two days ago: one timed out (3600 s), one cancelled (5 s)
      run(at(now, -2), 'TIMED_OUT', 3600),
      run(at(now, -2, 14), 'CANCELLED', 5),
      // outside the window: ignored
      run(at(now, -7), 'SUCCEEDED', 10),
      run(at(now, 1), 'SUCCEEDED', 10),
    ];
    const stats = summarizeRuns(runs, now);
    const today = stats.days[6];
    assert.equal(today?.key, localDayKey(now));
    assert.equal(today?.total, 5);
    assert.equal(today?.counts.SUCCEEDED, 3);
    assert.equal(today?.counts.FAILED, 1);
    assert.equal(today?.counts.RUNNING, 1);
    assert.deepEqual(today?.durations, [30_000, 60_000, 120_000, 600_000]);
    assert.equal(today?.p50, 60_000);
    assert.equal(today?.p95, 600_000);
    const twoDaysAgo = stats.days[4];
    assert.equal(twoDaysAgo?.counts.TIMED_OUT, 1);
    assert.equal(twoDaysAgo?.counts.CANCELLED, 1);
    assert.equal(stats.days[5]?.total, 0);
    assert.equal(stats.days[5]?.p50, undefined);
    assert.equal(stats.runs, 7);
    assert.equal(stats.finished, 6);
    assert.equal(stats.p50, 60_000);
    assert.equal(stats.p95, 3_600_000);
  });

  it('writes durations as a person reads them', () => {
    assert.equal(formatDuration(400), '0.4 s');
    assert.equal(formatDuration(38_000), '38 s');
    assert.equal(formatDuration(252_000), '4 min 12 s');
    assert.equal(formatDuration(3_900_000), '1 h 05 min');
    assert.equal(formatDuration(3 * 86_400_000 + 7_200_000), '3 d 2 h');
  });
});
