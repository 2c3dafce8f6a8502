import type { RunRecord } from '../core/run-record.ts';

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
  /** Release files, sockets. */
  close?(): Promise<void>;
}

export type CreateResult =
  | { readonly created: true; readonly record: RunRecord }
  | { readonly created: false; readonly record: RunRecord };
