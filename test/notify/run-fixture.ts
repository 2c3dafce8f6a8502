import type { RunRecord } from '../../shared/core/run-record.ts';

/** A finished run record with every internal field set, so tests can check none leaks. */
export function finishedRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: '0b6f0c3e-5a7e-5d6c-9f51-3f3c1e2d4a10',
    dedupeKey: 'key:nightly-2026-05-01',
    requestHash: 'sha256:4f2a',
    request: { projectId: 'p1', notebookId: 'nb.ipynb', inputVariables: { MODE: 'full' } },
    trigger: 'http',
    projectId: 'p1',
    notebookId: 'nb.ipynb',
    status: 'SUCCEEDED',
    operationId: 'op-123',
    executionStatus: 'OK',
    createdAt: '2026-05-01T10:00:00.000Z',
    updatedAt: '2026-05-01T10:20:00.000Z',
    startedAt: '2026-05-01T10:00:01.000Z',
    finishedAt: '2026-05-01T10:20:00.000Z',
    deadline: '2026-05-02T10:00:00.000Z',
    nextCheckAt: '2026-05-01T10:21:00.000Z',
    checks: 7,
    notFoundCount: 1,
    operationDone: true,
    reportedAt: '2026-05-01T10:20:00.000Z',
    notifications: { webhook: { delivered: false, attempts: 1, lastError: 'boom' } },
    version: 9,
    ...overrides,
  };
}
