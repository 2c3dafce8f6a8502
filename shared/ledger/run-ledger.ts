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
 * - A stored record that cannot be read (not JSON, not a run record) never fails a listing: the store
 *   sets it aside (out of the open index, its bytes kept where they are), tells `onUnreadable` once, and
 *   lists the others. `get` of such a run fails with an UnreadableRecordError (see ledger-error.ts).
 * - Concurrency slots: one item per scope, created with create-if-absent, handed over and freed only by
 *   compare-and-set on its holder (see ConcurrencySlot).
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
  /**
   * Takes the slot of `scope` for `runId` if nobody holds it (create-if-absent): of any number of
   * concurrent acquires of a free slot exactly one is `acquired`. Also `acquired` when `runId` holds it
   * already (a redelivery). Otherwise `slot` names the holder.
   */
  acquireSlot(scope: string, runId: string, since: string): Promise<SlotClaim>;
  getSlot(scope: string): Promise<ConcurrencySlot | undefined>;
  /**
   * Hands the slot of `scope` from `from` to `to`, only while `from` holds it (compare-and-set on the
   * holder). Returns the slot as stored, or `undefined` (nothing changed) when `from` does not hold it.
   */
  transferSlot(scope: string, from: string, to: string, since: string): Promise<ConcurrencySlot | undefined>;
  /** Frees the slot of `scope` only while `runId` holds it; true when this call freed it. */
  releaseSlot(scope: string, runId: string): Promise<boolean>;
  /** Release files, sockets. */
  close?(): Promise<void>;
}

export type CreateResult =
  | { readonly created: true; readonly record: RunRecord }
  | { readonly created: false; readonly record: RunRecord };

/**
 * The run that holds a concurrency scope (`project:<projectId>/<notebookId>` or `job:<name>`): at most
 * one per scope. `concurrency: "skip"` takes it with create-if-absent when a run is claimed and frees
 * it when the run ends; a queued or replacing run gets it by a transfer from the holder it waited for
 * or replaced, so no free moment lets a third run in.
 */
export interface ConcurrencySlot {
  readonly scope: string;
  /** runId of the holder. */
  readonly holder: string;
  /** When the holder got it (ISO); a holder whose record never appeared is recovered after a while. */
  readonly since: string;
}

export interface SlotClaim {
  readonly acquired: boolean;
  /** The slot as stored: ours when `acquired`, else the holder's. */
  readonly slot: ConcurrencySlot;
}

/** A stored record a store could not read and has set aside (design.md §7). Non-secret facts only. */
export interface UnreadableRecord {
  /** The run, when the store can tell it from where the record is kept. */
  readonly runId?: string;
  /** Where it is kept for inspection: a file path, or `<table>/<key>`. */
  readonly location: string;
  /** What is wrong with it (a parser message, a missing field). */
  readonly reason: string;
}

/** What a store tells its opener; given when the ledger is opened (the stores have no logger). */
export interface LedgerObserver {
  /** Called once per record set aside. Must not throw. */
  readonly onUnreadable?: (record: UnreadableRecord) => void;
}
