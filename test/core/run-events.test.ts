import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundEvents, hasEvent, MAX_EVENT_DETAIL, withEvent } from '../../shared/core/run-events.ts';
import { MAX_RUN_EVENTS, type RunEvent, type RunRecord } from '../../shared/core/run-record.ts';

const record: RunRecord = {
  runId: 'r1',
  dedupeKey: 'key:k',
  requestHash: 'h',
  request: { projectId: 'p1', notebookId: 'nb' },
  trigger: 'http',
  projectId: 'p1',
  notebookId: 'nb',
  status: 'STARTING',
  createdAt: '2025-06-02T06:00:00.000Z',
  updatedAt: '2025-06-02T06:00:00.000Z',
  deadline: '2025-06-03T06:00:00.000Z',
  checks: 0,
  version: 1,
};
const at = (second: number) => new Date(Date.UTC(2025, 5, 2, 6, 0, second));

describe('withEvent', () => {
  it('appends an entry with its time, and a detail only when there is one', () => {
    const one = withEvent(record, 'claimed', at(0));
    const two = withEvent(one, 'finished', at(5), 'SUCCEEDED');
    assert.deepEqual(two.events, [
      { at: '2025-06-02T06:00:00.000Z', type: 'claimed' },
      { at: '2025-06-02T06:00:05.000Z', type: 'finished', detail: 'SUCCEEDED' },
    ]);
    assert.equal(record.events, undefined, 'the input record is not changed');
    assert.equal(withEvent(record, 'started', at(1), '').events?.[0]?.detail, undefined);
    assert.ok(hasEvent(two, 'finished'));
    assert.ok(!hasEvent(two, 'reported'));
  });

  it('cuts a long detail', () => {
    const long = withEvent(record, 'cancel-requested', at(0), 'x'.repeat(1000));
    assert.equal(long.events?.[0]?.detail?.length, MAX_EVENT_DETAIL);
  });

  it(`keeps at most ${MAX_RUN_EVENTS} entries, the oldest dropped first but the first "claimed" kept`, () => {
    let current: RunRecord = withEvent(record, 'claimed', at(0));
    for (let i = 1; i <= 30; i++) current = withEvent(current, 'retry-scheduled', at(i), `n${i}`);
    const events = current.events ?? [];
    assert.equal(events.length, MAX_RUN_EVENTS);
    assert.equal(events[0]?.type, 'claimed');
    assert.equal(events[1]?.detail, 'n12');
    assert.equal(events.at(-1)?.detail, 'n30');
  });

  it('without a "claimed" entry, simply keeps the newest', () => {
    const events: RunEvent[] = Array.from({ length: 25 }, (_, i) => ({
      at: at(i).toISOString(),
      type: 'started',
      detail: `n${i}`,
    }));
    const bounded = boundEvents(events);
    assert.equal(bounded.length, MAX_RUN_EVENTS);
    assert.equal(bounded[0]?.detail, 'n5');
  });
});
