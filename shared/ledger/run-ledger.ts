import type { RunRecord } from '../core/run-record.ts';
import type { RunHistoryPage, RunHistoryQuery } from './run-history.ts';

/**
 * The storage port the core depends on. Every store (file, YDB Document API) implements it and passes
 * the one conformance suite in `test/ledger/ledger-conformance.ts`.
 *
 * Rules every store keeps:
 * - `create` is create-if-absent on `runId`: of two concurrent creates exactly one wins, the other gets
 *   the stored record back.
 * - `update` is compare-and-set on `version`: it writes only when the stored version equals
 *   `record.version`, stores `version + 1` and returns what it stored; on any mismatch it returns
 *   `undefined` and changes nothing.
 * - `listDue` and `listOpen` read only records that carry `nextCheckAt` (an index / key design), never
 *   the whole history.
 * - `listRuns` reads the history newest first (createdAt descending, then the run's key) through an
 *   index of createdAt bucketed by UTC day, only the days of the asked window, never the whole table
 *   (see run-history.ts). Each call examines at most `scanLimit` entries and `dayLimit` days and answers
 *   the position it reached; paging on from it returns every run of the window exactly once, including
 *   runs with equal createdAt, and runs created meanwhile do not disturb it. `create` refuses a
 *   `createdAt` that is not an ISO date (the index could not place it); createdAt never changes.
 */
export interface RunLedger {
  /** Store `record` (its `version` must be 1) unless a record with its `runId` exists. */
  create(record: RunRecord): Promise<CreateResult>;
  get(runId: string): Promise<RunRecord | undefined>;
  findByOperationId(operationId: string): Promise<RunRecord | undefined>;
  /** Compare-and-set: see the interface comment. */
  update(record: RunRecord): Promise<RunRecord | undefined>;
  /** Records with `nextCheckAt <= dueBy`, oldest `nextCheckAt` first, at most `limit`. */
  listDue(dueBy: Date, limit: number): Promise<RunRecord[]>;
  /** Every record that carries `nextCheckAt` (the ones still needing the sweep). */
  listOpen(): Promise<RunRecord[]>;
  /** The run history of a `createdAt` window, newest first: see the interface comment. */
  listRuns(query: RunHistoryQuery): Promise<RunHistoryPage>;
  /** Release files, sockets. */
  close?(): Promise<void>;
}

export type CreateResult =
  | { readonly created: true; readonly record: RunRecord }
  | { readonly created: false; readonly record: RunRecord };
