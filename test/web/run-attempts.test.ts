import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attemptText, retryPending, retryText } from '../../web/page/run-attempts.ts';
import type { RunView } from '../../web/page/run-types.ts';
import { localTime } from '../../web/page/time-format.ts';

const RUN: RunView = {
  runId: 'r1',
  projectId: 'p1',
  notebookId: 'nb.ipynb',
  status: 'FAILED',
  createdAt: '2025-06-01T12:00:00.000Z',
};
const DUE = '2025-06-01T12:05:00.000Z';

describe('a retried run in the console (web/page/run-attempts.ts)', () => {
  it('says which attempt is due and when, only while the API sends retryAt without retriedBy', () => {
    const pending: RunView = { ...RUN, attempt: 1, retryAt: DUE };
    assert.equal(retryPending(pending), true);
    assert.equal(retryText(pending), `attempt 2 at ${localTime(DUE)}`);
    assert.equal(retryText({ ...pending, attempt: 2, attempts: ['r0'] }), `attempt 3 at ${localTime(DUE)}`);
    // Started (an older API might still send retryAt), stopped, or never retried: nothing is due.
    assert.equal(retryText({ ...pending, retriedBy: 'r2' }), undefined);
    assert.equal(retryText({ ...RUN, attempt: 1 }), undefined);
    assert.equal(retryText(RUN), undefined);
    assert.equal(retryPending(RUN), false);
  });

  it('shows the attempt number with the earlier attempts', () => {
    assert.equal(attemptText(RUN), undefined);
    assert.equal(attemptText({ ...RUN, attempt: 1 }), '1');
    assert.equal(attemptText({ ...RUN, attempt: 3, attempts: ['r0', 'r1'] }), '3 (earlier: r0, r1)');
  });
});
