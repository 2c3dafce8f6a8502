import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRetrySchedule, parseRetryAfter } from '../../shared/notify/retry-schedule.ts';

describe('createRetrySchedule', () => {
  it('defaults to 3 attempts with equal-jitter backoff from 250 ms, capped at 2 s', () => {
    const low = createRetrySchedule({ attempts: 10 }, () => 0);
    const high = createRetrySchedule({ attempts: 10 }, () => 1);
    assert.equal(createRetrySchedule().attempts, 3);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => low.next(n)),
      [{ wait: 125 }, { wait: 250 }, { wait: 500 }, { wait: 1000 }, { wait: 1000 }],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => high.next(n)),
      [{ wait: 250 }, { wait: 500 }, { wait: 1000 }, { wait: 2000 }, { wait: 2000 }],
    );
  });

  it('stops once the attempts are used up', () => {
    const schedule = createRetrySchedule({ attempts: 2 });
    assert.ok('wait' in schedule.next(1));
    assert.deepEqual(schedule.next(2), { stop: 'attempts-exhausted' });
  });

  it('waits out a short Retry-After and refuses a long one', () => {
    const schedule = createRetrySchedule({ maxRetryAfterMs: 5_000 });
    assert.deepEqual(schedule.next(1, 4_000), { wait: 4_000 });
    assert.deepEqual(schedule.next(1, 6_000), { stop: 'retry-after-too-long', retryAfterMs: 6_000 });
  });

  it('rejects settings outside their range', () => {
    assert.throws(() => createRetrySchedule({ attempts: 0 }), /retry\.attempts/);
    assert.throws(() => createRetrySchedule({ baseMs: -1 }), /retry\.baseMs/);
    assert.throws(() => createRetrySchedule({ capMs: 1.5 }), /retry\.capMs/);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('2026-05-01T10:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Fri, 01 May 2026 10:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Fri, 01 May 2026 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('-1', now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });
});
