import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { isDue, planTick, slotDedupeKey, type TickPlanEntry } from '../../shared/schedule/tick-plan.ts';

const RUN = { projectId: 'bt1abcdefghijklmnopq', notebookId: 'notebooks/train.ipynb' };

function job(name: string, schedule: string): JobDefinition<typeof RUN> {
  return { name, schedule, concurrency: 'skip', run: RUN };
}

/** The plan as `name: slot` or `name: skipped reason [slot]`, for readable assertions. */
function summary(entries: readonly TickPlanEntry[]): string[] {
  return entries.map((e) => {
    const slot = e.slot ? ` ${e.slot.toISOString()}` : '';
    return isDue(e) ? `${e.job.name}: start${slot}` : `${e.job.name}: ${e.skipped}${slot}`;
  });
}

const nightly = job('nightly-train', '0 3 ? * * *');

describe('planTick', () => {
  it('starts a job whose slot is exactly now', () => {
    const plan = planTick([nightly], new Date('2024-05-10T03:00:00Z'));
    assert.deepEqual(summary(plan), ['nightly-train: start 2024-05-10T03:00:00.000Z']);
    assert.equal(plan[0]?.job, nightly);
  });

  it('drops the seconds of now: a tick late within the minute starts the slot', () => {
    assert.deepEqual(summary(planTick([nightly], new Date('2024-05-10T03:00:59.999Z'))), [
      'nightly-train: start 2024-05-10T03:00:00.000Z',
    ]);
  });

  it('starts a slot 15 minutes old (the default catch-up window)', () => {
    assert.deepEqual(summary(planTick([nightly], new Date('2024-05-10T03:15:00Z'))), [
      'nightly-train: start 2024-05-10T03:00:00.000Z',
    ]);
    assert.deepEqual(summary(planTick([nightly], new Date('2024-05-10T03:15:59Z'))), [
      'nightly-train: start 2024-05-10T03:00:00.000Z',
    ]);
  });

  it('skips a slot 16 minutes old as too old, naming the slot', () => {
    assert.deepEqual(summary(planTick([nightly], new Date('2024-05-10T03:16:00Z'))), [
      'nightly-train: too-old 2024-05-10T03:00:00.000Z',
    ]);
  });

  it('skips before the first slot of the day with the previous day as the latest slot', () => {
    assert.deepEqual(summary(planTick([nightly], new Date('2024-05-10T02:59:59Z'))), [
      'nightly-train: too-old 2024-05-09T03:00:00.000Z',
    ]);
  });

  it('honours a configured catch-up window, including zero', () => {
    const now = new Date('2024-05-10T03:30:00Z');
    assert.deepEqual(summary(planTick([nightly], now, { catchUpMinutes: 30 })), [
      'nightly-train: start 2024-05-10T03:00:00.000Z',
    ]);
    assert.deepEqual(summary(planTick([nightly], now, { catchUpMinutes: 29 })), [
      'nightly-train: too-old 2024-05-10T03:00:00.000Z',
    ]);
    assert.deepEqual(summary(planTick([nightly], new Date('2024-05-10T03:00:10Z'), { catchUpMinutes: 0 })), [
      'nightly-train: start 2024-05-10T03:00:00.000Z',
    ]);
    assert.deepEqual(summary(planTick([nightly], new Date('2024-05-10T03:01:00Z'), { catchUpMinutes: 0 })), [
      'nightly-train: too-old 2024-05-10T03:00:00.000Z',
    ]);
  });

  it('rejects a catch-up window that is negative or not whole', () => {
    assert.throws(
      () => planTick([nightly], new Date('2024-05-10T03:00Z'), { catchUpMinutes: -1 }),
      RangeError,
    );
    assert.throws(
      () => planTick([nightly], new Date('2024-05-10T03:00Z'), { catchUpMinutes: 1.5 }),
      RangeError,
    );
  });

  it('considers only the latest slot: missed earlier slots are never run', () => {
    // Every 5 minutes; ticks lost from 10:00 to 10:12. Only 10:10 is due, not 10:00 or 10:05.
    assert.deepEqual(summary(planTick([job('every5', '*/5 * ? * * *')], new Date('2024-05-10T10:12:00Z'))), [
      'every5: start 2024-05-10T10:10:00.000Z',
    ]);
  });

  it('plans several jobs independently, in their order', () => {
    const jobs = [
      job('every-minute', '* * ? * * *'),
      nightly,
      job('hourly', '0 * ? * * *'),
      job('weekdays-0310', '10 3 ? * MON-FRI *'),
      job('month-end', '0 3 L * ? *'),
      job('future', '0 0 1 1 ? 2030'),
    ];
    // Friday 2024-05-31 03:12.
    assert.deepEqual(summary(planTick(jobs, new Date('2024-05-31T03:12:30Z'))), [
      'every-minute: start 2024-05-31T03:12:00.000Z',
      'nightly-train: start 2024-05-31T03:00:00.000Z',
      'hourly: start 2024-05-31T03:00:00.000Z',
      'weekdays-0310: start 2024-05-31T03:10:00.000Z',
      'month-end: start 2024-05-31T03:00:00.000Z',
      'future: no-slot',
    ]);
    // Saturday 2024-06-01 03:12.
    assert.deepEqual(summary(planTick(jobs, new Date('2024-06-01T03:12:30Z'))), [
      'every-minute: start 2024-06-01T03:12:00.000Z',
      'nightly-train: start 2024-06-01T03:00:00.000Z',
      'hourly: start 2024-06-01T03:00:00.000Z',
      'weekdays-0310: too-old 2024-05-31T03:10:00.000Z',
      'month-end: too-old 2024-05-31T03:00:00.000Z',
      'future: no-slot',
    ]);
  });

  it('plans a slot in the previous year when the tick is just after midnight on 1 January', () => {
    assert.deepEqual(summary(planTick([job('nye', '55 23 31 12 ? *')], new Date('2025-01-01T00:05:00Z'))), [
      'nye: start 2024-12-31T23:55:00.000Z',
    ]);
  });

  it('answers an empty plan for no jobs', () => {
    assert.deepEqual(planTick([], new Date('2024-05-10T03:00:00Z')), []);
  });

  it('fails naming the job when an embedded schedule is invalid', () => {
    assert.throws(
      () => planTick([job('broken', '0 3 * * * *')], new Date('2024-05-10T03:00:00Z')),
      /^ConfigError: jobs\.broken\.schedule: "0 3 \* \* \* \*": one of day-of-month and day-of-week must be "\?"$/,
    );
  });
});

describe('slotDedupeKey', () => {
  it('is schedule:<job>:<slot as an ISO minute>', () => {
    assert.equal(
      slotDedupeKey('nightly-train', new Date('2024-05-10T03:00:00Z')),
      'schedule:nightly-train:2024-05-10T03:00Z',
    );
  });

  it('is the same for any instant within the slot minute', () => {
    assert.equal(
      slotDedupeKey('a', new Date('2024-05-10T03:00:59.999Z')),
      slotDedupeKey('a', new Date('2024-05-10T03:00:00Z')),
    );
  });

  it('differs between jobs and between slots', () => {
    const slot = new Date('2024-05-10T03:00:00Z');
    assert.notEqual(slotDedupeKey('a', slot), slotDedupeKey('b', slot));
    assert.notEqual(slotDedupeKey('a', slot), slotDedupeKey('a', new Date('2024-05-10T03:01:00Z')));
  });
});
