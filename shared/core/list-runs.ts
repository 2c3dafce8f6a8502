import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { InvalidRequestError } from '../errors.ts';
import type { RunHistoryEntry, RunHistoryPage, RunPosition } from '../ledger/run-history.ts';
import type { CoreDeps } from './ports.ts';
import { assertMayAct } from './project-access.ts';
import { type PublicRun, toPublicRun } from './public-run.ts';
import {
  RUN_ACTIONS,
  RUN_STATUSES,
  type RunAction,
  type RunRecord,
  type RunStatus,
  TRIGGER_KINDS,
  type TriggerKind,
} from './run-record.ts';

/**
 * The run history (design.md §6, `GET /runs`): runs newest first by `createdAt`, filtered, one page at a
 * time behind an opaque cursor. It reads through the ledger's history index of the asked window only
 * (RunLedger.listRuns), never the whole ledger, and bounds what one page may read: a rare filter answers
 * a short (even empty) page with a cursor rather than reading everything in one call.
 */

/** Page size when none is asked for, and the most one page may hold. */
export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;
/** The window when `since` is absent: this many days before `until`. */
export const DEFAULT_WINDOW_DAYS = 30;
/** The longest window one query may ask for (how far back one paging walks). */
export const MAX_WINDOW_DAYS = 366;
/** When `until` is absent: a little past now, so a run another instance just created (clock skew) is in. */
export const UNTIL_SLACK_MS = 60_000;
/** Most history entries one page examines (answered or filtered out). */
export const LIST_SCAN_LIMIT = 500;
/** Most day buckets one page visits (each is one index query on the Document API). */
export const LIST_DAY_LIMIT = 32;
/** Most Project.Get calls in flight while a page learns which projects a caller's token may read. */
export const ACCESS_CHECK_CONCURRENCY = 8;

const DAY_MS = 86_400_000;
const MAX_CURSOR_LENGTH = 1024;

/** What a caller may ask of the history. Every field is optional; all given filters must hold. */
export interface ListRunsQuery {
  /** 1..100, default 20. */
  readonly limit?: number;
  /** From the previous page's `nextCursor`; the other fields must repeat that query's filters. */
  readonly cursor?: string;
  /** Any of these statuses. */
  readonly status?: readonly RunStatus[];
  readonly projectId?: string;
  readonly notebookId?: string;
  /** Name of the scheduled job. */
  readonly job?: string;
  readonly trigger?: TriggerKind;
  readonly action?: RunAction;
  /** Oldest `createdAt` included; default `until` − 30 days. */
  readonly since?: Date;
  /** `createdAt` bound, excluded; default now (+1 minute of clock slack). */
  readonly until?: Date;
  /**
   * Only runs of projects this accepts are answered (on top of a gateway caller's access, deps.access).
   * It is applied to the index entry, before any record is read, and is not part of the cursor.
   */
  readonly projectAllowed?: (projectId: string) => boolean;
}

export interface RunList {
  readonly runs: PublicRun[];
  /** Pass as `cursor` for the next page; `null` when the window holds nothing older. */
  readonly nextCursor: string | null;
}

export type ListRunsDeps = Pick<CoreDeps, 'ledger' | 'now' | 'log' | 'access'>;

/**
 * One page of the run history. Invalid input is an `INVALID_REQUEST` naming the field (`limit`,
 * `since`, `until`, `cursor`); a page may hold fewer runs than `limit` (even none) while `nextCursor` is
 * not null, when the filters dropped most of what one page may examine.
 */
export async function listRuns(
  query: ListRunsQuery,
  deps: ListRunsDeps,
  signal?: AbortSignal,
): Promise<RunList> {
  const limit = query.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InvalidRequestError('limit', `must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  }
  const filters = normalizedFilters(query);
  const { access } = deps;
  // Nothing is read for a caller whose credential is not known good (deciding the asked project shows it).
  if (access !== undefined && filters.projectId === undefined) await access.verify(signal);
  if (filters.projectId !== undefined) await assertMayAct(access, filters.projectId, signal);
  const fingerprint = fingerprintOf(filters);
  let window: { since: number; until: number };
  let after: RunPosition | undefined;
  if (query.cursor === undefined) {
    window = resolveWindow(query, deps.now().getTime());
  } else {
    const cursor = decodeCursor(query.cursor);
    const sameWindow =
      (query.since === undefined || query.since.getTime() === cursor.since) &&
      (query.until === undefined || query.until.getTime() === cursor.until);
    if (!sameWindow || cursor.filters !== fingerprint) {
      throw new InvalidRequestError(
        'cursor',
        'belongs to a query with other filters or another since/until: repeat the query that gave it, ' +
          'or start again without a cursor',
      );
    }
    window = { since: cursor.since, until: cursor.until };
    after = cursor.position;
  }

  const read = (projectAllowed: ((projectId: string) => boolean) | undefined) =>
    deps.ledger.listRuns({
      since: new Date(window.since),
      until: new Date(window.until),
      ...(after === undefined ? {} : { after }),
      limit,
      scanLimit: LIST_SCAN_LIMIT,
      dayLimit: LIST_DAY_LIMIT,
      ...entryPredicate(filters, projectAllowed),
      ...(filters.status === undefined ? {} : { match: statusPredicate(filters.status) }),
    });
  const page =
    access === undefined ? await read(query.projectAllowed) : await readAsCaller(read, query, access, signal);
  for (const skipped of page.unreadable) {
    deps.log.warn('run history: a record could not be read and was left out', {
      record: skipped.ref,
      reason: skipped.reason,
    });
  }
  return {
    runs: page.runs.map(toPublicRun),
    nextCursor:
      page.next === undefined
        ? null
        : encodeCursor({
            since: window.since,
            until: window.until,
            position: page.next,
            filters: fingerprint,
          }),
  };
}

/**
 * A page for a gateway caller: only runs of projects the caller may act on. The ledger tests projects
 * synchronously, entry by entry, so a project whose decision is not known yet (a token's first look at
 * it) counts as refused in a first read; those projects are then decided (Project.Get with the caller's
 * token, a few at a time, cached) and the page is read again from the same position. The second read
 * stops no later than the first (it can only find its runs sooner), so it meets no project the first
 * did not: two reads at most, one when every decision is known (an API key, a warm cache).
 */
async function readAsCaller(
  read: (projectAllowed: (projectId: string) => boolean) => Promise<RunHistoryPage>,
  query: ListRunsQuery,
  access: NonNullable<ListRunsDeps['access']>,
  signal: AbortSignal | undefined,
): Promise<RunHistoryPage> {
  const decided = new Map<string, boolean>();
  const unknown = new Set<string>();
  const allowed = (projectId: string): boolean => {
    if (query.projectAllowed !== undefined && !query.projectAllowed(projectId)) return false;
    const decision = decided.get(projectId) ?? access.known(projectId);
    if (decision !== undefined) return decision;
    unknown.add(projectId);
    return false;
  };
  const first = await read(allowed);
  if (unknown.size === 0) return first;
  const limit = pLimit(ACCESS_CHECK_CONCURRENCY);
  await Promise.all(
    [...unknown].map((projectId) =>
      limit(async () => {
        decided.set(projectId, await access.mayAct(projectId, signal));
      }),
    ),
  );
  unknown.clear();
  return read(allowed);
}

/** The query's filters: what the cursor's fingerprint covers. */
type Filters = Pick<ListRunsQuery, 'status' | 'projectId' | 'notebookId' | 'job' | 'trigger' | 'action'>;

/** The filters in one canonical form (sorted, deduplicated statuses), each checked for its type. */
function normalizedFilters(query: ListRunsQuery): Filters {
  const checkOne = <T extends string>(field: string, value: T | undefined, allowed?: readonly string[]) => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '' || (allowed !== undefined && !allowed.includes(value))) {
      throw new InvalidRequestError(
        field,
        allowed === undefined ? 'must be a non-empty string' : `must be one of ${allowed.join(', ')}`,
      );
    }
    return value;
  };
  let status: RunStatus[] | undefined;
  if (query.status !== undefined) {
    for (const s of query.status) checkOne('status', s, RUN_STATUSES);
    status = [...new Set(query.status)].sort();
    if (status.length === 0) throw new InvalidRequestError('status', 'must name at least one status');
  }
  const entries: [string, string | readonly string[] | undefined][] = [
    ['status', status],
    ['projectId', checkOne('projectId', query.projectId)],
    ['notebookId', checkOne('notebookId', query.notebookId)],
    ['job', checkOne('job', query.job)],
    ['trigger', checkOne('trigger', query.trigger, TRIGGER_KINDS)],
    ['action', checkOne('action', query.action, RUN_ACTIONS)],
  ];
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined)) as Filters;
}

/** `[since, until)` from the query, defaulted and bounded; errors name the field. */
function resolveWindow(query: ListRunsQuery, now: number): { since: number; until: number } {
  const until = query.until?.getTime() ?? now + UNTIL_SLACK_MS;
  if (!Number.isFinite(until)) throw new InvalidRequestError('until', 'is not a valid time');
  const since = query.since?.getTime() ?? until - DEFAULT_WINDOW_DAYS * DAY_MS;
  if (!Number.isFinite(since)) throw new InvalidRequestError('since', 'is not a valid time');
  if (since >= until) throw new InvalidRequestError('since', 'must be before until');
  if (until - since > MAX_WINDOW_DAYS * DAY_MS) {
    throw new InvalidRequestError('since', `must be at most ${MAX_WINDOW_DAYS} days before until`);
  }
  if (since < 0) throw new InvalidRequestError('since', 'must not be before 1970');
  return { since, until };
}

/**
 * Facts of the index entry: tested before the record is read (cheap on the Document API). None when
 * nothing is to be tested, so an unfiltered page reads exactly the entries it answers.
 */
function entryPredicate(
  filters: Filters,
  projectAllowed: ((projectId: string) => boolean) | undefined,
): { matchEntry?: (entry: RunHistoryEntry) => boolean } {
  const { status: _status, ...entryFilters } = filters;
  if (projectAllowed === undefined && Object.keys(entryFilters).length === 0) return {};
  // The project rule last: a gateway caller's access is only looked up for entries the filters keep.
  const matchEntry = (entry: RunHistoryEntry): boolean =>
    (filters.projectId === undefined || entry.projectId === filters.projectId) &&
    (filters.notebookId === undefined || entry.notebookId === filters.notebookId) &&
    (filters.job === undefined || entry.job === filters.job) &&
    (filters.trigger === undefined || entry.trigger === filters.trigger) &&
    (filters.action === undefined || entry.action === filters.action) &&
    (projectAllowed === undefined || projectAllowed(entry.projectId));
  return { matchEntry };
}

/** The status changes over a run's life, so it is tested on the record itself. */
function statusPredicate(statuses: readonly RunStatus[]): (record: RunRecord) => boolean {
  const wanted = new Set<string>(statuses);
  return (record) => wanted.has(record.status);
}

/** A short digest of the filters, so that a cursor is only used with the query that issued it. */
function fingerprintOf(filters: Filters): string {
  return digest(JSON.stringify(filters));
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url').slice(0, 12);
}

interface CursorState {
  readonly since: number;
  readonly until: number;
  readonly position: RunPosition;
  readonly filters: string;
}

/**
 * The cursor: base64url of a small JSON (version, window, position, filter digest) with a checksum. It
 * grants nothing (the position only says where to continue; filters and, later, authorization apply
 * to every page), so it is not signed: the checksum catches a damaged or hand-edited cursor.
 */
export function encodeCursor(state: CursorState): string {
  const body = [1, state.since, state.until, state.position.createdAt, state.position.key, state.filters];
  const json = JSON.stringify(body);
  return Buffer.from(JSON.stringify([...body, digest(json)]), 'utf8').toString('base64url');
}

/** The state of a cursor this service issued; anything else is an INVALID_REQUEST naming `cursor`. */
export function decodeCursor(cursor: string): CursorState {
  const invalid = () =>
    new InvalidRequestError(
      'cursor',
      'is not a cursor this service issued (use nextCursor of the previous page)',
    );
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw invalid();
  }
  let value: unknown;
  try {
    const bytes = Buffer.from(cursor, 'base64url');
    // base64url decoding ignores stray trailing characters: only the canonical text is ours.
    if (bytes.toString('base64url') !== cursor) throw invalid();
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== 7) throw invalid();
  const [version, since, until, createdAt, key, filters, check] = value as unknown[];
  if (
    version !== 1 ||
    !Number.isSafeInteger(since) ||
    !Number.isSafeInteger(until) ||
    !Number.isSafeInteger(createdAt) ||
    typeof key !== 'string' ||
    typeof filters !== 'string' ||
    check !== digest(JSON.stringify(value.slice(0, 6)))
  ) {
    throw invalid();
  }
  const s = since as number;
  const u = until as number;
  const c = createdAt as number;
  if (s < 0 || s >= u || u - s > MAX_WINDOW_DAYS * DAY_MS || c < s - DAY_MS || c > u) throw invalid();
  return { since: s, until: u, position: { createdAt: c, key }, filters };
}
