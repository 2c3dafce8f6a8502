import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRunnerError } from '../../shared/errors.ts';
import { buildNotification, deliveryIdOf, RUN_FINISHED } from '../../shared/notify/notification.ts';
import { toPublicRun } from '../../shared/notify/public-run.ts';
import { finishedRecord } from './run-fixture.ts';

const INTERNAL = [
  'requestHash',
  'dedupeKey',
  'notFoundCount',
  'notifications',
  'version',
  'nextCheckAt',
  'request',
  'operationDone',
  'reportedAt',
  'startSentAt',
  'concurrencyScope',
];

describe('toPublicRun', () => {
  it('leaves out every internal field of the record', () => {
    const run = toPublicRun(
      finishedRecord({
        startSentAt: '2026-05-01T10:00:00.000Z',
        concurrencyScope: 'project:p1/nb.ipynb',
        notFoundCount: 2,
        operationDone: true,
        reportedAt: '2026-05-01T10:05:00.000Z',
        request: { projectId: 'p1', notebookId: 'nb.ipynb', inputVariables: { PASSWORD: 'hunter2' } },
      }),
    ) as unknown as Record<string, unknown>;
    for (const field of INTERNAL) assert.equal(field in run, false, field);
    assert.doesNotMatch(JSON.stringify(run), /hunter2/);
  });

  it('carries the public fields of design.md §5 (action, result, attempts, events, checks…), copied member by member', () => {
    const record = finishedRecord({
      action: 'open',
      result: { projectUrl: 'https://datasphere.yandex.cloud/p1' },
      attempt: 2,
      attempts: ['r0'],
      retriedBy: 'r2',
      upstream: { runId: 'u1', job: 'nightly', status: 'SUCCEEDED' },
      replacedBy: 'r9',
      checks: 4,
      events: [
        { at: '2026-05-01T10:00:00.000Z', type: 'claimed' },
        { at: '2026-05-01T10:05:00.000Z', type: 'finished', detail: 'SUCCEEDED' },
      ],
    });
    const run = toPublicRun(record);
    assert.equal(run.action, 'open');
    assert.deepEqual(run.result, { projectUrl: 'https://datasphere.yandex.cloud/p1' });
    assert.equal(run.attempt, 2);
    assert.deepEqual(run.attempts, ['r0']);
    assert.equal(run.retriedBy, 'r2');
    assert.deepEqual(run.upstream, { runId: 'u1', job: 'nightly', status: 'SUCCEEDED' });
    assert.equal(run.replacedBy, 'r9');
    assert.equal(run.checks, 4);
    assert.deepEqual(run.events, record.events);
    // Copies, not the record's own objects: a later change to the record never shows through.
    assert.notEqual(run.events, record.events);
    assert.notEqual(run.result, record.result);
    // A member smuggled into a nested value (an older or newer writer) does not pass.
    const smuggled = toPublicRun({
      ...record,
      result: { projectUrl: 'u', sessionToken: { nested: 'x' } } as never,
      events: [{ at: 'a', type: 'claimed', sessionToken: 's' } as never],
      upstream: { runId: 'u1', status: 'FAILED', request: { x: 1 } } as never,
    });
    assert.deepEqual(smuggled.result, { projectUrl: 'u' });
    assert.deepEqual(smuggled.events, [{ at: 'a', type: 'claimed' }]);
    assert.deepEqual(smuggled.upstream, { runId: 'u1', status: 'FAILED' });
  });

  it('says action "execute" for a record written before actions existed', () => {
    assert.equal(toPublicRun(finishedRecord()).action, 'execute');
  });

  it('keeps the public fields in the order of the design, and omits absent optional ones', () => {
    const run = toPublicRun(
      finishedRecord({
        status: 'FAILED',
        executionStatus: 'ERROR',
        error: { code: 13, message: 'kernel died' },
      }),
    );
    assert.deepEqual(Object.keys(run), [
      'runId',
      'operationId',
      'projectId',
      'notebookId',
      'status',
      'executionStatus',
      'error',
      'createdAt',
      'updatedAt',
      'startedAt',
      'finishedAt',
      'deadline',
      'trigger',
      'action',
      'checks',
    ]);
    assert.deepEqual(run.error, { code: 13, message: 'kernel died' });
  });

  it('carries the job, cancel time and reason when the run has them', () => {
    const run = toPublicRun(
      finishedRecord({
        status: 'TIMED_OUT',
        job: { name: 'nightly', slot: '2026-05-01T03:00:00.000Z' },
        cancelRequestedAt: '2026-05-02T10:00:00.000Z',
        cancelReason: 'deadline',
      }),
    );
    assert.deepEqual(run.job, { name: 'nightly', slot: '2026-05-01T03:00:00.000Z' });
    assert.equal(run.cancelReason, 'deadline');
    assert.equal(run.cancelRequestedAt, '2026-05-02T10:00:00.000Z');
  });

  it('carries the action, result, attempts and timeline of design.md §5 when the record has them', () => {
    const events = [
      { at: '2026-05-01T03:00:00.000Z', type: 'claimed' as const },
      { at: '2026-05-01T03:10:00.000Z', type: 'finished' as const, detail: 'SUCCEEDED' },
    ];
    const run = toPublicRun(
      finishedRecord({
        action: 'open',
        result: { projectUrl: 'https://datasphere.yandex.cloud/communities/c/projects/p' },
        attempt: 2,
        attempts: ['r-1'],
        events,
      }),
    );
    assert.equal(run.action, 'open');
    assert.deepEqual(run.result, { projectUrl: 'https://datasphere.yandex.cloud/communities/c/projects/p' });
    assert.equal(run.attempt, 2);
    assert.deepEqual(run.attempts, ['r-1']);
    assert.deepEqual(run.events, events);
  });
});

describe('toPublicRun: retryAt, the next attempt still to start', () => {
  const failed = {
    status: 'FAILED' as const,
    executionStatus: 'ERROR',
    error: { code: 'EXECUTION_ERROR', message: 'cell 4 raised' },
    attempt: 1,
    retryAt: '2026-05-01T10:21:00.000Z',
  };

  it('is shown while the retry is scheduled and not yet started, right after retriedBy in the order', () => {
    const run = toPublicRun(finishedRecord(failed));
    assert.equal(run.retryAt, '2026-05-01T10:21:00.000Z');
    assert.deepEqual(Object.keys(run).slice(Object.keys(run).indexOf('trigger')), [
      'trigger',
      'action',
      'attempt',
      'retryAt',
      'checks',
    ]);
  });

  it('is hidden once the next attempt has started (retriedBy), though the ledger keeps it', () => {
    const run = toPublicRun(finishedRecord({ ...failed, retriedBy: 'r2' }));
    assert.equal(run.retriedBy, 'r2');
    assert.equal('retryAt' in run, false);
  });

  it('is absent when the retry was stopped (the ledger drops it) and never in a report', () => {
    const { retryAt: _dropped, ...rest } = failed;
    const stopped = finishedRecord({ ...rest, cancelReason: 'user' });
    assert.equal('retryAt' in toPublicRun(stopped), false);
    const report = buildNotification(stopped);
    assert.equal('retryAt' in report.run, false);
    // Even a record that still had one (a caller's mistake) is reported as it ended, without it.
    assert.equal('retryAt' in buildNotification(finishedRecord(failed)).run, false);
  });
});

describe('buildNotification', () => {
  it('wraps the public run with the event type and a delivery id of runId:status', () => {
    const record = finishedRecord();
    const notification = buildNotification(record);
    assert.equal(notification.type, RUN_FINISHED);
    assert.equal(notification.type, 'run.finished');
    assert.equal(notification.deliveryId, `${record.runId}:SUCCEEDED`);
    const { checks: _checks, ...run } = toPublicRun(record);
    assert.deepEqual(notification.run, run);
  });

  it('is a pure function of the record, so every retry sends the same bytes', () => {
    const record = finishedRecord();
    assert.equal(JSON.stringify(buildNotification(record)), JSON.stringify(buildNotification({ ...record })));
    // Delivery bookkeeping changes between sweeps; the payload must not.
    const later = { ...record, version: 12, notifications: { webhook: { delivered: false, attempts: 3 } } };
    assert.equal(JSON.stringify(buildNotification(later)), JSON.stringify(buildNotification(record)));
    // So do the timeline after the ending (the reports themselves) and the follow-up checks.
    const events = [
      { at: '2026-05-01T10:00:00.000Z', type: 'claimed' },
      { at: '2026-05-01T10:20:00.000Z', type: 'finished', detail: 'SUCCEEDED' },
    ] as const;
    const ended = finishedRecord({ events });
    const reported = finishedRecord({
      checks: 12,
      events: [...events, { at: '2026-05-01T10:20:01.000Z', type: 'reported', detail: 'log' }],
    });
    assert.equal(JSON.stringify(buildNotification(reported)), JSON.stringify(buildNotification(ended)));
    assert.deepEqual(buildNotification(reported).run.events, events);
    assert.equal(buildNotification(reported).run.checks, undefined);
  });

  it('gives each final status of a run its own delivery id', () => {
    assert.notEqual(
      deliveryIdOf(finishedRecord({ status: 'CANCELLED' })),
      deliveryIdOf(finishedRecord({ status: 'TIMED_OUT' })),
    );
  });

  it('refuses a run that has not finished', () => {
    for (const status of ['STARTING', 'RUNNING'] as const) {
      assert.throws(
        () => buildNotification(finishedRecord({ status })),
        (error) => isRunnerError(error) && error.code === 'INTERNAL' && error.message.includes(status),
      );
    }
  });
});
