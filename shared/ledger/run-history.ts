import type { RunAction, RunRecord, TriggerKind } from '../core/run-record.ts';
import { ledgerError } from './ledger-error.ts';

/**
 * The run history as every store reads it (RunLedger.listRuns): runs newest first by `createdAt`, ties
 * broken by a per-store key of the run (the runId itself, or the file store's file name of it, which is
 * the runId for every id the product makes), read through an index of `createdAt` bucketed by UTC day,
 * never by a scan of the whole ledger. A read is bounded three ways: `limit` runs, `scanLimit` index
 * entries examined (a rare filter cannot make one call read everything) and `dayLimit` day buckets
 * visited; it then answers the position it reached, and the next call continues strictly after it.
 */

/** Where a history read stopped: the entry examined last, or a day boundary (`key` ''). */
export interface RunPosition {
  /** `createdAt` of the entry, epoch milliseconds. */
  readonly createdAt: number;
  /**
   * The store's tie-break key of that entry. `''` sorts before every key, so `{createdAt: t, key: ''}`
   * means "everything older than t".
   */
  readonly key: string;
}

/** What the history index knows of a run without reading its record: the facts that never change. */
export interface RunHistoryEntry {
  readonly runId: string;
  readonly createdAt: number;
  readonly projectId: string;
  readonly notebookId?: string;
  readonly trigger: TriggerKind;
  readonly action: RunAction;
  /** Name of the scheduled job that started the run. */
  readonly job?: string;
}

export interface RunHistoryQuery {
  /** Oldest `createdAt` included. */
  readonly since: Date;
  /** `createdAt` bound, excluded: the window is `[since, until)`. */
  readonly until: Date;
  /** Continue strictly after (older than) this position. */
  readonly after?: RunPosition;
  /** Most runs to answer (≥ 1). */
  readonly limit: number;
  /** Most index entries to examine in this call, answered or filtered out (≥ 1). */
  readonly scanLimit: number;
  /** Most day buckets to visit in this call (≥ 1). */
  readonly dayLimit: number;
  /** A test on the facts of the index entry, applied before the record is read (stores that can). */
  readonly matchEntry?: (entry: RunHistoryEntry) => boolean;
  /** A test on the record itself. */
  readonly match?: (record: RunRecord) => boolean;
}

export interface RunHistoryPage {
  readonly runs: RunRecord[];
  /**
   * Where to continue, or `undefined` when nothing older is left in the window. A position may lead
   * to an empty last page (a store need not look ahead to know).
   */
  readonly next: RunPosition | undefined;
  /** Index entries whose record could not be read: skipped, named here so the caller can report them. */
  readonly unreadable: readonly { readonly ref: string; readonly reason: string }[];
}

export const DAY_MS = 86_400_000;
/** createdAt must lie in 1970..9999 so that fixed-width ISO text and zero-padded names sort like time. */
const MAX_CREATED_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** `createdAt` of a record as epoch ms; a record the history could not place is refused at create. */
export function createdMillis(record: RunRecord): number {
  const ms = typeof record.createdAt === 'string' ? Date.parse(record.createdAt) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_CREATED_MS) {
    throw ledgerError(
      `run ${record.runId}: createdAt "${String(record.createdAt)}" is not an ISO date between 1970 and 9999`,
      undefined,
      { runId: record.runId },
    );
  }
  return ms;
}

/** Start of the UTC day holding `ms`. */
export const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/** The day bucket of `ms`: `YYYY-MM-DD` (UTC). */
export const dayName = (ms: number): string => new Date(dayStart(ms)).toISOString().slice(0, 10);

/** The immutable facts of `record` the history index can filter on. */
export function entryOf(record: RunRecord, createdAt: number): RunHistoryEntry {
  return {
    runId: record.runId,
    createdAt,
    projectId: record.projectId,
    ...(record.notebookId === undefined ? {} : { notebookId: record.notebookId }),
    trigger: record.trigger,
    action: record.action ?? 'execute',
    ...(record.job === undefined ? {} : { job: record.job.name }),
  };
}

/** Byte order of the UTF-8 encodings (the order of the Document API's string keys). */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 order equals UTF-8 byte order except where surrogates meet U+E000..U+FFFF.
  if (!WIDE.test(a) && !WIDE.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const WIDE = /[\uD800-\uFFFF]/;

/** Newest first: `createdAt` descending, then key descending. */
export function newestFirst(a: RunPosition, b: RunPosition): number {
  return b.createdAt - a.createdAt || compareKeys(b.key, a.key);
}

/** True when `entry` comes strictly after (is older than) `position` in the history order. */
export function isAfter(entry: RunPosition, position: RunPosition | undefined): boolean {
  if (position === undefined) return true;
  return (
    entry.createdAt < position.createdAt ||
    (entry.createdAt === position.createdAt && compareKeys(entry.key, position.key) < 0)
  );
}

/** True when `entry` lies in the window `[since, until)` and after the query's position. */
export function isWanted(entry: RunPosition, query: RunHistoryQuery): boolean {
  return (
    entry.createdAt >= query.since.getTime() &&
    entry.createdAt < query.until.getTime() &&
    isAfter(entry, query.after)
  );
}

/**
 * The day buckets a query may still find entries in, newest first: from the day of the newest wanted
 * instant down to the day of `since`. Empty when nothing can be wanted.
 */
export function historyDays(query: RunHistoryQuery): number[] {
  checkHistoryQuery(query);
  const since = query.since.getTime();
  let newest = query.until.getTime() - 1;
  const after = query.after;
  if (after !== undefined) {
    newest = Math.min(newest, after.key === '' ? after.createdAt - 1 : after.createdAt);
  }
  if (newest < since) return [];
  const days: number[] = [];
  for (let day = dayStart(newest); day >= dayStart(since); day -= DAY_MS) days.push(day);
  return days;
}

/** A caller bug (an invalid bound) fails loudly rather than reading something unexpected. */
export function checkHistoryQuery(query: RunHistoryQuery): void {
  const since = query.since.getTime();
  const until = query.until.getTime();
  if (!Number.isFinite(since) || !Number.isFinite(until))
    throw ledgerError('listRuns needs valid since/until');
  for (const [name, value] of [
    ['limit', query.limit],
    ['scanLimit', query.scanLimit],
    ['dayLimit', query.dayLimit],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw ledgerError(`listRuns needs a positive integer ${name}, got ${String(value)}`);
    }
  }
  if (query.after !== undefined && !Number.isFinite(query.after.createdAt)) {
    throw ledgerError('listRuns needs a position with a numeric createdAt');
  }
}

/** A history entry as a store lists it: where it sorts, before its record is read. */
export interface HistoryCandidate extends RunPosition {}

/** What reading a candidate's record found. */
export type CandidateRecord =
  | { readonly record: RunRecord }
  | { readonly missing: true }
  | { readonly unreadable: string; readonly ref: string };

/** How a store that keeps its index as lists per day (file, memory) serves `walkHistory`. */
export interface HistorySource {
  /** The entries indexed on the UTC day starting at `dayMs`, in any order. */
  day(dayMs: number): Promise<readonly HistoryCandidate[]>;
  /** The records behind `candidates`, in the same order. */
  read(candidates: readonly HistoryCandidate[]): Promise<readonly CandidateRecord[]>;
}

/**
 * listRuns for stores whose index is a list of entries per day. An entry counts only when its record
 * exists and carries the entry's `createdAt` (an entry left by a crashed or lost create is skipped), so
 * each run is answered at exactly one position.
 */
export async function walkHistory(
  query: RunHistoryQuery,
  source: HistorySource,
  readBatch = 16,
): Promise<RunHistoryPage> {
  const days = historyDays(query);
  const runs: RunRecord[] = [];
  const unreadable: { ref: string; reason: string }[] = [];
  let scanned = 0;
  let last: RunPosition | undefined;
  for (const [d, day] of days.entries()) {
    if (d === query.dayLimit) return { runs, next: { createdAt: days[d - 1] ?? day, key: '' }, unreadable };
    const candidates = (await source.day(day)).filter((c) => isWanted(c, query)).sort(newestFirst);
    for (let i = 0; i < candidates.length; ) {
      const room = Math.min(readBatch, query.limit - runs.length, query.scanLimit - scanned);
      const chunk = candidates.slice(i, i + room);
      i += chunk.length;
      const outcomes = await source.read(chunk);
      for (const [j, candidate] of chunk.entries()) {
        scanned += 1;
        last = candidate;
        const outcome = outcomes[j];
        if (outcome === undefined || 'missing' in outcome) continue;
        if ('unreadable' in outcome) {
          unreadable.push({ ref: outcome.ref, reason: outcome.unreadable });
          continue;
        }
        const { record } = outcome;
        if (Date.parse(record.createdAt) !== candidate.createdAt) continue;
        if (query.matchEntry !== undefined && !query.matchEntry(entryOf(record, candidate.createdAt)))
          continue;
        if (query.match !== undefined && !query.match(record)) continue;
        runs.push(record);
      }
      if (runs.length === query.limit || scanned === query.scanLimit) {
        const exhausted = i >= candidates.length && d === days.length - 1;
        return { runs, next: exhausted ? undefined : last, unreadable };
      }
    }
  }
  return { runs, next: undefined, unreadable };
}
