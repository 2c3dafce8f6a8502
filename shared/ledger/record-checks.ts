import type { RunRecord } from '../core/run-record.ts';
import { ledgerError } from './ledger-error.ts';

/**
 * Rules every store applies before it writes, so that all stores accept and refuse the same records
 * (the conformance suite holds them to it).
 */

/** `nextCheckAt` as epoch milliseconds; `undefined` when the record is finished (carries none). */
export function dueMillis(record: RunRecord): number | undefined {
  if (record.nextCheckAt === undefined) return undefined;
  const ms = Date.parse(record.nextCheckAt);
  if (!Number.isFinite(ms)) {
    throw ledgerError(
      `run ${record.runId}: nextCheckAt "${record.nextCheckAt}" is not an ISO date`,
      undefined,
      {
        runId: record.runId,
      },
    );
  }
  return ms;
}

/** `dueBy` of listDue as epoch milliseconds; an invalid Date is a caller bug worth failing loudly on. */
export function dueByMillis(dueBy: Date): number {
  const ms = dueBy.getTime();
  if (!Number.isFinite(ms)) throw ledgerError('listDue needs a valid dueBy date');
  return ms;
}

/** A record handed to `create` must be a first version with a usable id. */
export function assertCreatable(record: RunRecord): void {
  assertRunId(record);
  if (record.version !== 1) {
    throw ledgerError(
      `run ${record.runId}: create needs version 1, got ${String(record.version)}`,
      undefined,
      {
        runId: record.runId,
      },
    );
  }
  dueMillis(record);
}

/** A record handed to `update` must carry the (positive integer) version it was read at. */
export function assertUpdatable(record: RunRecord): void {
  assertRunId(record);
  if (!Number.isSafeInteger(record.version) || record.version < 1) {
    throw ledgerError(`run ${record.runId}: update needs a positive integer version`, undefined, {
      runId: record.runId,
    });
  }
  dueMillis(record);
}

function assertRunId(record: RunRecord): void {
  if (typeof record.runId !== 'string' || record.runId === '') {
    throw ledgerError('a run record needs a non-empty runId');
  }
}

/** The record as the store will hand it back: a detached JSON copy (no shared objects, no `undefined`). */
export function detached(record: RunRecord): RunRecord {
  return JSON.parse(JSON.stringify(record)) as RunRecord;
}
