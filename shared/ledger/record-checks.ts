import { RUN_STATUSES, type RunRecord } from '../core/run-record.ts';
import { ledgerError, UnreadableRecordError } from './ledger-error.ts';
import type { ConcurrencySlot } from './run-ledger.ts';

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

const STATUSES: ReadonlySet<string> = new Set(RUN_STATUSES);

/**
 * A stored record read back: JSON of a run record (its runId the expected one, a known status, a
 * version, a valid nextCheckAt). Anything else throws an UnreadableRecordError naming `location`, so
 * that a listing can set it aside instead of failing on it.
 */
export function parseStoredRecord(text: string, location: string, runId?: string): RunRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UnreadableRecordError(location, `not valid JSON (${(error as Error).message})`, runId, error);
  }
  const problem = recordProblem(value, runId);
  if (problem !== undefined) throw new UnreadableRecordError(location, problem, runId);
  return value as RunRecord;
}

function recordProblem(value: unknown, runId: string | undefined): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  if (typeof record.runId !== 'string' || record.runId === '') return 'no runId';
  if (runId !== undefined && record.runId !== runId) return `holds run ${record.runId}, not ${runId}`;
  if (typeof record.status !== 'string' || !STATUSES.has(record.status)) return 'no known status';
  if (!Number.isSafeInteger(record.version) || (record.version as number) < 1) return 'no valid version';
  if (record.nextCheckAt !== undefined) {
    if (typeof record.nextCheckAt !== 'string' || !Number.isFinite(Date.parse(record.nextCheckAt))) {
      return 'nextCheckAt is not an ISO date';
    }
  }
  return undefined;
}

/** A scope, holder and time for a slot; every store refuses empty ones the same way. */
export function assertSlotArguments(scope: string, ...runIds: string[]): void {
  if (typeof scope !== 'string' || scope === '')
    throw ledgerError('a concurrency slot needs a non-empty scope');
  for (const runId of runIds) {
    if (typeof runId !== 'string' || runId === '') {
      throw ledgerError(`concurrency slot ${scope}: a holder needs a non-empty runId`);
    }
  }
}

/** A stored slot read back; a damaged one reads as free (the next acquire overwrites nothing: see stores). */
export function parseStoredSlot(text: string, scope: string): ConcurrencySlot | undefined {
  try {
    const value = JSON.parse(text) as Partial<ConcurrencySlot>;
    if (value.scope === scope && typeof value.holder === 'string' && typeof value.since === 'string') {
      return { scope, holder: value.holder, since: value.since };
    }
  } catch {
    // fall through
  }
  return undefined;
}
